// Text handed to SQLite, in SQLite's own memory. SQLite runs in its compartment and, in
// cheri images, is compiled hybrid: it may read only what its DDC covers (its
// compartment's region), as on Morello. The C++ around it (the shell, the services)
// keeps its strings in the process's heap, so each string it hands SQLite is copied
// into memory from sqlite3_malloc first, which is the compartment's heap.
//
//   SqliteText sql(statement);                    // a NUL-terminated copy
//   sqlite3_prepare_v2(db, sql.c_str(), -1, &s, &rest);
#pragma once

#include <sqlite3.h>

#include <cstring>
#include <new>
#include <string_view>

namespace flexcap::lib::sqlite {

class SqliteText {
 public:
  explicit SqliteText(std::string_view text)
      : text_(static_cast<char*>(sqlite3_malloc64(text.size() + 1))) {
    if (text_ == nullptr) throw std::bad_alloc();  // the compartment's heap is full
    std::memcpy(text_, text.data(), text.size());
    text_[text.size()] = '\0';
  }
  ~SqliteText() { sqlite3_free(text_); }
  SqliteText(const SqliteText&) = delete;
  SqliteText& operator=(const SqliteText&) = delete;

  const char* c_str() const { return text_; }

 private:
  char* text_;
};

}  // namespace flexcap::lib::sqlite
