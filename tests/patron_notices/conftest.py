import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from plugins.patron_notices.directory import services
from plugins.patron_notices.models import ImportJob
from portal.members.roles import COMMUNICATIONS, DIRECTOR, STAFF
from tests import factories

KOHA_HEADER = (
    "borrowernumber,cardnumber,surname,firstname,title,othernames,initials,streetnumber,"
    "streettype,address,address2,city,state,zipcode,country,email,phone,mobile,fax,"
    "emailpro,phonepro,B_streetnumber,B_streettype,B_address,B_address2,B_city,B_state,"
    "B_zipcode,B_country,B_email,B_phone,dateofbirth,branchcode,categorycode,dateenrolled,"
    "dateexpiry,gonenoaddress,lost,debarred,debarredcomment,contactname,contactfirstname,"
    "contacttitle,borrowernotes,relationship,sex,password,flags,userid,opacnote,"
    "contactnote,sort1,sort2,altcontactfirstname,altcontactsurname,altcontactaddress1,"
    "altcontactaddress2,altcontactaddress3,altcontactstate,altcontactzipcode,"
    "altcontactcountry,altcontactphone,smsalertnumber,privacy,patron_attributes"
)


def koha_row(
    n,
    card,
    surname,
    first,
    email,
    branch="MAIN",
    category="PT",
    expiry="2027-12-31",
    attributes="NOTICES:1",
    **columns,
):
    cols = KOHA_HEADER.split(",")
    values = dict.fromkeys(cols, "")
    values.update(
        borrowernumber=str(n),
        cardnumber=card,
        surname=surname,
        firstname=first,
        email=email,
        branchcode=branch,
        categorycode=category,
        dateexpiry=expiry,
        dateenrolled="2020-01-02",
        city="Springfield",
        address="1 Main St",
        privacy="1",
        mobile="555-0100",
        patron_attributes=attributes,
    )
    values.update(columns)  # any other Koha column, e.g. the address
    out = []
    for c in cols:
        v = values[c]
        out.append(f'"{v}"' if "," in v or "\n" in v else v)
    return ",".join(out)


@pytest.fixture
def libs(db):
    root = factories.consortium()
    north = factories.library(root, name="North System", code="north")
    main = factories.library(north, name="Main", code="main")
    east = factories.library(north, name="East", code="east")
    south = factories.library(root, name="South System", code="south")
    return {"root": root, "north": north, "main": main, "east": east, "south": south}


@pytest.fixture
def people(libs):
    from allauth.mfa.models import Authenticator

    director = factories.member(libs["north"], DIRECTOR, email="dir@example.org")
    Authenticator.objects.create(user=director, type="totp", data={"secret": "x"})
    return {
        "comms": factories.member(libs["north"], COMMUNICATIONS, email="comms@example.org"),
        "director": director,
        "south_comms": factories.member(libs["south"], COMMUNICATIONS, email="sc@example.org"),
        "staff": factories.member(libs["north"], STAFF, email="staff@example.org"),
    }


def run_import(
    user,
    library,
    content: bytes,
    preset="koha",
    mode="valid_rows",
    full_sync=False,
    mapping=None,
    capture=None,
):
    """Upload, map and run an import as the portal does; returns the finished job."""
    upload = SimpleUploadedFile("patrons.csv", content, content_type="text/csv")
    services.check_start_import(user, library, upload)
    job, _header = services.do_upload_import(user, library, upload, preset)
    mapping = mapping or job.mapping
    services.check_run_import(user, job, mapping)
    with capture(execute=True):
        services.do_run_import(user, job, mapping, mode, full_sync)
    return ImportJob.objects.get(pk=job.pk)
