"""The plan, as data: what must change at the suppliers, what applying it did, and the
saved-plan document. Nothing here reads or writes anything (an import-linter contract):
planning and applying are the engine's, the file's bytes are the command's to read and
write, and rendering is the views'.
"""
