import datetime

from django.utils import timezone

from portal.dates import add_months


def test_a_month_later_is_the_same_day_or_the_months_last():
    assert add_months(datetime.date(2027, 1, 31), 1) == datetime.date(2027, 2, 28)
    assert add_months(datetime.date(2028, 1, 31), 1) == datetime.date(2028, 2, 29)  # leap
    assert add_months(datetime.date(2027, 3, 15), 12) == datetime.date(2028, 3, 15)
    assert add_months(datetime.date(2027, 11, 30), 3) == datetime.date(2028, 2, 29)


def test_months_back_and_datetimes_keep_their_time_and_zone():
    assert add_months(datetime.date(2027, 3, 31), -1) == datetime.date(2027, 2, 28)
    assert add_months(datetime.date(2027, 1, 10), -13) == datetime.date(2025, 12, 10)
    moment = timezone.now().replace(year=2027, month=1, day=31, hour=9, minute=30)
    later = add_months(moment, 1)
    assert (later.month, later.day, later.hour, later.minute) == (2, 28, 9, 30)
    assert later.tzinfo == moment.tzinfo
