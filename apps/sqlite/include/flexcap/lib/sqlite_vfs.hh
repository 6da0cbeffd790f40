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

// Why the last failed file operation failed, when the cause was FlexCap's rather than
// SQLite's (a gate refused or the file system's compartment faulted): a sentence, or
// "" if there was none since the last call. SQLite itself only says "disk I/O error".
std::string io_failure();

}  // namespace flexcap::lib::sqlite
