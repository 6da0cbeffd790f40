# The injected bug: accept a hex buffer with no room for the terminating NUL.
s/hex_maxlen <= bin_len \* 2U/hex_maxlen < bin_len * 2U/
