# Models for channels.
