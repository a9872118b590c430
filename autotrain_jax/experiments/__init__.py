"""Applications on top of the library: the comparison protocol and its reports."""
