"""Rules of bulk imports (ledger/importer.py): what a row of a spreadsheet must look like.

A cell is checked for its form here; what it means (an amount that settles
nothing, a contract that does not exist) is checked by the same command
handlers as any other write, and reported with their rules.
"""

from __future__ import annotations

from domain.errors import rule

G = "import"

IMPORT_FILE_READABLE = rule(
    "import_file_readable",
    "An import file is an XLSX workbook (its first sheet is read) or a CSV file in UTF-8 (with or "
    "without BOM) or GB18030, whose first row names the columns.",
    group=G,
)
IMPORT_COLUMNS_KNOWN = rule(
    "import_columns_known",
    "Every column header names a column of the import kind (its Chinese or English name, or both as "
    "in the template), no column appears twice, and every required column is present.",
    group=G,
)
IMPORT_VALUE_REQUIRED = rule(
    "import_value_required",
    "A required cell, or a cell that another filled cell of the row needs, is not empty.",
    group=G,
)
IMPORT_DATE_FORMAT = rule(
    "import_date_format",
    "A date cell is a spreadsheet date or text in ISO form YYYY-MM-DD.",
    group=G,
)
IMPORT_CHOICE_KNOWN = rule(
    "import_choice_known",
    "A cell with a fixed set of values holds one of them: the English code or its Chinese label "
    "(是/否 or true/false for yes-no cells).",
    group=G,
)
IMPORT_LIST_FORMAT = rule(
    "import_list_format",
    "A list cell separates its items with ';' (inventors as name:share, e.g. 张三:60;李四:40).",
    group=G,
)
