# "17 de diciembre de 2026" en todas partes (ver portal/formats).
DATE_FORMAT = r"j \d\e F \d\e Y"
SHORT_DATE_FORMAT = DATE_FORMAT
DATETIME_FORMAT = r"j \d\e F \d\e Y \a \l\a\s H:i"
SHORT_DATETIME_FORMAT = DATETIME_FORMAT
