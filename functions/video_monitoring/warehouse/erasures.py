"""What an erasure does to BigQuery rows, as the SQL the export and the erasure share, and the
erasure ledger that keeps an export in flight from bringing an erased user's rows back.

Why a ledger: the export reads a day from Firestore into staging tables, then replaces the day
in one transaction (warehouse/nightly.py). An erasure that anonymises Firestore and BigQuery
after the export read the user's records, but before its replace commits, would see its
BigQuery update overwritten by the raw staged rows. So the erasure first records the user
(the SHA-256 of each id as BigQuery stores it: raw and, where the export pseudonymises, the
pseudonym; never the id itself) in the `erasure_ledger` table, then anonymises the rows of the
tables and of every staging table. The export, in turn:
1. reads the ledger (`before`) once its staging tables are loaded;
2. replaces the day with the staged rows anonymised for every id the ledger holds at the
   transaction's own snapshot (a subquery; it holds at least `before`);
3. reads the ledger again (`after`) once the replace has committed and anonymises the day's
   rows of every id in `after - before` (ids it cannot be sure the replace saw).
Race-free for every order: an erasure whose ledger entry committed before step 1 is applied by
step 2; one committed after step 1 and before step 3's read is applied by step 3; one committed
after step 3's read updates the rows itself after the replace committed (its update follows its
ledger entry), so it sees and anonymises them. An erasure that arrives during the replace
transaction is the second case. Nothing relies on BigQuery detecting conflicting transactions.

The ledger's entries matter only to an export that read the user's records before the erasure
anonymised Firestore, and an export commits within its staging tables' lifetime (a day) or not
at all; entries are kept LEDGER_LIFETIME (partition expiration), well past that.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable

from video_monitoring.privacy.pseudonyms import ERASED

LEDGER = "erasure_ledger"
LEDGER_LIFETIME = dt.timedelta(days=7)
_FEATURE = "JSON_QUERY(properties, '$.feature')"
# Tables holding user ids -> what erasure sets besides the id: an event's session cleared and its
# properties reduced to the feature name the figures count (privacy/pseudonyms.kept_properties).
ERASED_COLUMNS: dict[str, dict[str, str]] = {
    "generation_metrics": {},
    "analytics_events": {
        "sessionId": "NULL",
        "properties": f"IF(STARTS_WITH({_FEATURE}, '\"') AND {_FEATURE} != '\"\"', "
        f"CONCAT('{{\"feature\":', {_FEATURE}, '}}'), NULL)",
    },
}
# A row's id as the ledger keys it (the same digest as `ledger_key`).
ROW_KEY = "TO_HEX(SHA256(userId))"


def ledger_key(stored_id: str) -> str:
    """How the ledger names an erased id as BigQuery stores it: its SHA-256, hex."""
    return hashlib.sha256(stored_id.encode()).hexdigest()


def anonymised_values(table: str) -> dict[str, str]:
    """Column -> SQL value an erasure gives it, for a table holding user ids."""
    return {"userId": f"'{ERASED}'", **ERASED_COLUMNS[table]}


def select_columns(table: str, columns: Iterable[str], erased: str | None) -> str:
    """The select list copying a table's columns, with the erasure's values for rows where
    the condition `erased` holds (tables without user ids, or no condition: as they are)."""
    values = anonymised_values(table) if erased and table in ERASED_COLUMNS else {}
    return ", ".join(
        f"IF({erased}, {values[c]}, `{c}`)" if c in values else f"`{c}`" for c in columns
    )


def anonymise_statement(path: str, table: str, where: str) -> str:
    """The UPDATE giving the erasure's values to the rows of `path` (a table of `table`'s
    schema, or its staging table) that match `where`."""
    sets = ", ".join(f"`{c}` = {v}" for c, v in anonymised_values(table).items())
    return f"UPDATE `{path}` SET {sets} WHERE {where}"
