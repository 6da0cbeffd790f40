// The SQLite VFS adaptor: Debian's unmodified libsqlite3 reaches its files through
// FlexCap's ramfs, in whatever compartment the configuration puts it. SQLite's raw
// buffers become bounded capabilities at this boundary (the hybrid to pure-capability
// boundary of the Morello work): each transfer goes through a buffer in the shared
// region, handed to ramfs as a capability to exactly the bytes concerned, read-only
// where ramfs only reads.
#pragma once

#include <string>

namespace flexcap::lib::sqlite {

// Registers the "flexcap" VFS and makes it SQLite's default. Returns an SQLite code.
int register_flexcap_vfs();

}  // namespace flexcap::lib::sqlite
