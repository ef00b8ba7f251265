"""Support code for the supertokens-python <-> sessiond end-to-end suite."""
