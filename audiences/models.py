# Models for audiences.
