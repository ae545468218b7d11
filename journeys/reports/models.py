# Models for campaign reports (rollups).
