"""One date format everywhere: the short formats are the long ones.

Lists, reports, PDFs and exports' on-screen twins wrote 12/17/2026 in one place and
Dec. 17, 2026 in the next; a date is now always written the long way in each language
(``FORMAT_MODULE_PATH``). Input formats are Django's, unchanged.
"""
