"""Order imports: Amazon order reports, CSV exports with a column mapping and JSON lines.

Each format has its reader (amazon.py, csv_orders.py, jsonl.py) that turns the file into parsed
orders and row issues; service.py sends the orders through the normal ingestion pipeline.
"""

from tracking.imports.service import ImportSummary, order_import_record, orders_import
from tracking.imports.types import ImportFailed, RowIssue

__all__ = ["ImportFailed", "ImportSummary", "RowIssue", "order_import_record", "orders_import"]
