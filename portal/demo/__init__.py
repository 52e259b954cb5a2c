"""The demo consortium that ``manage.py seed_demo`` builds: the known logins and believable
names (here, which the plugins' demo seeders use too), its member libraries
(``libraries``) and its people (``people``). Names are made up in the style of Ohio
libraries.
"""

from portal.members.models import MemberLibrary, Membership

DEMO_PASSWORD = "concord-demo"  # noqa: S105 - the documented demo login
# One TOTP secret (base32) for every demo account that must use MFA; `demo_totp` prints
# the current code. Only seeded, and only printed, when settings.DEBUG is on.
DEMO_TOTP_SECRET = "CONCORDDEMOTOTPSECRETFORLOCALUSE"  # noqa: S105
DEMO_DOMAIN = "example.org"
OFFICE_EMAIL = f"office@{DEMO_DOMAIN}"
# The office's second pair of eyes: a patron notice is approved by someone other than its
# author, so the demo needs two people who may send.
DEPUTY_EMAIL = f"deputy@{DEMO_DOMAIN}"
COMMUNICATIONS_EMAIL = f"comms@{DEMO_DOMAIN}"
TRAINING_EMAIL = f"training@{DEMO_DOMAIN}"
CONSORTIUM_NAME = "Ohio Valley Library Consortium"


def words(text: str) -> list[str]:
    """Whitespace-separated words; an underscore stands for a space inside a name."""
    return [word.replace("_", " ") for word in text.split()]


TOWNS = words(
    """
Athens Nelsonville Logan Chillicothe Circleville Lancaster Marietta Belpre Gallipolis
Jackson Wellston Portsmouth Ironton Pomeroy McArthur Waverly Piketon Hillsboro Wilmington
Lebanon Xenia Springfield Urbana Bellefontaine Marysville Delaware Newark Zanesville Cambridge
Coshocton Millersburg Wooster Ashland Mansfield Bucyrus Marion Kenton Lima Wapakoneta Sidney
Troy Piqua Greenville Eaton Hamilton Middletown Oxford Batavia Georgetown Steubenville Cadiz
Woodsfield Caldwell McConnelsville Somerset Lorain Elyria Medina Kent Ravenna Warren Canton
Massillon Alliance Dover Uhrichsville Carrollton Lisbon Salem Ashtabula Conneaut Painesville
Chardon Sandusky Norwalk Fremont Tiffin Findlay Napoleon Defiance Bryan Wauseon Paulding
Ottawa Celina Fostoria Galion Shelby Loudonville Orrville Wadsworth Strongsville Berea Lakewood
Parma Euclid Mentor Willoughby Hudson Stow Barberton Norton Jefferson Geneva Middlefield Burton
Garrettsville Hiram Mantua Minerva Sebring Columbiana Wellsville Toronto Bridgeport Barnesville
Bellaire Shadyside Beverly Lowell Albany Coolville Glouster Trimble Chauncey Amesville Shawnee
Corning Crooksville Roseville Thornville Baltimore Pickerington Groveport Hilliard Dublin
Worthington Westerville Gahanna Reynoldsburg Pataskala Granville Johnstown Utica Danville
Gambier Fredericktown Bellville Lexington Butler Perrysville Jeromesville Hayesville Polk
Sullivan Lodi Seville Rittman Doylestown Creston Smithville Dalton Kidron Apple_Creek
Shreve Killbuck Berlin Walnut_Creek Sugarcreek Baltic Ragersville Gnadenhutten Newcomerstown
Stone_Creek Bolivar Zoar Magnolia Navarre Beach_City Brewster Wilmot Hartville Uniontown
Louisville Malvern Minerva_Park Waynesburg Sherrodsville Leesville Bowerston Scio Jewett
Freeport Tippecanoe Flushing Belmont Bethesda Morristown Quaker_City Senecaville Byesville
Caldwell_Springs Sarahsville Summerfield Beallsville Clarington Sardis Hannibal Marietta_Hills
Reno Little_Hocking Stewart Guysville Albany_Mills Rutland Racine Syracuse Middleport
Cheshire Vinton Rio_Grande Bidwell Crown_City Proctorville Chesapeake Coal_Grove
South_Point Hanging_Rock Franklin_Furnace Wheelersburg Lucasville Minford Otway
Peebles Manchester Ripley Aberdeen Higginsport Mount_Orab Fayetteville Blanchester
Sabina Leesburg Greenfield Bainbridge Frankfort Kingston Adelphi Laurelville Ashville
Commercial_Point Orient Mount_Sterling Plain_City West_Jefferson London
"""
)

COUNTIES = words(
    """
Athens Hocking Ross Pickaway Fairfield Washington Meigs Gallia Lawrence Scioto Pike
Vinton Highland Adams Brown Clermont Clinton Fayette Greene Clark Champaign Union Knox Licking
Muskingum Guernsey Perry Holmes Wayne Richland Crawford Hardin Allen Auglaize Miami Darke
Preble Montgomery Belmont Harrison Monroe Noble Morgan Tuscarawas Carroll Stark Summit Portage
Trumbull Mahoning Geauga Lake Huron Erie Wood Seneca Hancock Wyandot Putnam Henry Fulton
Williams Mercer Madison Franklin Cuyahoga Lucas
"""
)

REGIONS = words(
    """
Scioto_Valley Hocking_Valley Muskingum_Valley Tuscarawas_Valley Miami_Valley
Mahoning_Valley Western_Reserve Ohio_River_Valley Appalachian_Foothills Maumee_Valley
Black_Swamp Lake_Erie_Shores Sandusky_Bay Little_Miami Great_Miami Olentangy Mohican
Killbuck_Valley Walhonding Licking_Valley Raccoon_Creek Wayne_Hills Kokosing Symmes_Creek
Paint_Creek Salt_Creek Big_Darby Vermilion Cuyahoga_Valley Grand_River Chagrin_Valley
Blanchard_River Auglaize_River Stillwater Twin_Creek Whitewater Mad_River Kinnikinnick
"""
)

SURNAMES = words(
    """
Harlan Whitfield Ashbury Pemberton Calloway Holloway Brantley Merriweather Fairbanks
Lindqvist Okafor Castellano Nakamura Delacroix Abernathy Sorensen Kowalski Oduya Marchetti
Halvorsen Bellamy Thibodeaux Ravensworth Underhill Vasquez Whitcombe Yardley Zellner
"""
)

FIRST_NAMES = words(
    """
Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Lisa Nancy
Betty Margaret Sandra Ashley Emily Donna Michelle Carol Amanda Melissa Deborah Stephanie Rebecca
Laura Sharon Cynthia Kathleen Amy Angela Anna Brenda Pamela Nicole Emma Samantha Christine
James Robert John Michael David William Richard Joseph Thomas Charles Christopher Daniel Matthew
Anthony Mark Donald Steven Paul Andrew Joshua Kenneth Kevin Brian George Timothy Ronald Jason
Edward Jeffrey Ryan Jacob Gary Nicholas Eric Jonathan Stephen Larry Justin Scott Brandon
Sofia Mateo Lucia Diego Camila Javier Valeria Alejandro Elena Carlos Chloe Louis Camille Hugo
Aisha Omar Fatima Yusuf Mei Wei Hiroshi Yuki Priya Arjun Ngozi Chidi Olga Dmitri Ingrid Lars
"""
)

LAST_NAMES = words(
    """
Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez
Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris
Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill
Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans
Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez
Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks
Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers
Long Ross Foster Jimenez Schmidt Yoder Hostetler Miller Troyer Kaufman Schrock Hershberger Weaver
Okonkwo Kowalczyk Novak Larsen Dubois Rossi Tanaka Chen Wang Singh Kaur Ali Hassan Ivanova
"""
)

# Brand colours: (primary, secondary) pairs that read well on white.
PALETTE = [
    ("#1d4ed8", "#0f172a"),
    ("#b91c1c", "#1f2937"),
    ("#047857", "#064e3b"),
    ("#7c3aed", "#2e1065"),
    ("#c2410c", "#431407"),
    ("#0e7490", "#083344"),
    ("#a16207", "#422006"),
    ("#be185d", "#500724"),
    ("#15803d", "#14532d"),
    ("#4338ca", "#1e1b4b"),
    ("#9f1239", "#1c1917"),
    ("#0369a1", "#082f49"),
]

STREETS = ["Main", "Court", "Union", "Elm", "College", "Market", "Church", "High"]

BRANCHES_OF_ACADEMIC = [
    "Main Library",
    "Health Sciences Library",
    "Music and Dance Library",
    "Law Library",
    "Science and Engineering Library",
    "Fine Arts Library",
    "Archives and Special Collections",
]


def example_logins() -> list[tuple[str, str]]:
    """The demo logins to show a newcomer, as (email, who): one list for the seeder's
    summary and for ``bin/demo``'s banner, read from the database so both always agree."""
    library = (
        MemberLibrary.objects.filter(kind=MemberLibrary.Kind.SYSTEM).order_by("path").first()
        or MemberLibrary.objects.filter(depth__gt=1).order_by("path").first()
    )
    logins = [
        (OFFICE_EMAIL, "the consortium office: committees, policies, notices (MFA)"),
        (DEPUTY_EMAIL, "the office's deputy: approves what the office drafts (MFA)"),
        (COMMUNICATIONS_EMAIL, "consortium communications: drafts patron notices"),
    ]
    if library is not None:
        logins += [
            (f"director.{library.code}@{DEMO_DOMAIN}", f"director of {library.name} (MFA)"),
            (f"staff1.{library.code}@{DEMO_DOMAIN}", f"staff at {library.name}"),
        ]
    # The demo's role of the consortium's own making (people.create_roles).
    coordinator = (
        Membership.objects.filter(role="ils_coordinator")
        .select_related("user", "library")
        .order_by("library__path")
        .first()
    )
    if coordinator is not None:
        logins.append(
            (
                coordinator.user.email,
                f"ILS coordinator at {coordinator.library.name}: the patron directory, no vote",
            )
        )
    return logins
