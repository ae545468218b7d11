# Models for journeys.
