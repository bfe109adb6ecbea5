"""The seed API documents' answer shapes, written down once per seed as pydantic models.

Each model lists the fields its document gives (names, types, envelope); where the
document shows no shape for an operation, the shape comes from the seed project's own
code as recorded in the project's research notes, and the model says so. Extra fields
are allowed (clients of these APIs ignore fields they do not know); missing or mistyped
ones fail validation.
"""
