# "Dec. 17, 2026" and "Dec. 17, 2026, 3:30 p.m." wherever a date is shown (see portal/formats).
DATE_FORMAT = "N j, Y"
SHORT_DATE_FORMAT = DATE_FORMAT
DATETIME_FORMAT = "N j, Y, P"
SHORT_DATETIME_FORMAT = DATETIME_FORMAT
