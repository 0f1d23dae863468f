// A disk spool: batches of spans kept on disk until a sink has delivered
// them, so that a backend outage or a restart loses nothing (design
// invariant 5: at-least-once delivery).
//
// Layout. One spool per sink, in a directory of its own (spool_dir():
// `<root>/<sink name>/`). Batches are appended to segment files whose names
// sort by age, `segment-00000000000000000042.wspool`. Each record is
//
//   [u32 little-endian payload length][u32 little-endian zlib crc32 of the
//   payload][payload: the batch in MessagePack, see span_msgpack.hpp]
//
// so a torn, truncated or corrupted record is detected on replay. Appends go
// to the newest segment; once it reaches segment_bytes it is fsync'd and
// closed and the next append starts a new one. A reopened spool never
// appends to a segment left by an earlier process (its tail may be torn): it
// starts a new segment, and replays the old ones first.
//
// Replay. peek() returns the oldest record not yet acknowledged, ack() marks
// it delivered. Progress is kept in a small `cursor` file (segment number and
// byte offset, replaced atomically by write + rename), so a restart resumes
// after the last ack. A segment whose records are all acknowledged is
// deleted. The cursor is not fsync'd: after a power failure the last few
// acknowledged records may be sent again, which at-least-once allows.
//
// Damage. A record whose frame is intact but whose crc or payload is bad is
// skipped alone. A record whose length is impossible (past the end of the
// segment) is skipped by scanning forward for the next position where a
// frame's length fits AND its crc matches: so random flips lose only the
// records they hit, and everything after them is replayed. Each skipped
// record, or run of unreadable bytes, counts in records_damaged() and is
// reported through take_warnings(). A segment that held damage is not
// deleted once replayed: it is renamed `segment-<n>.wspool.damaged` and kept
// for inspection (its bytes count in bytes_quarantined()). The public API
// never throws and never crashes on bad files.
//
// The cursor is checked against the segments present: one that names a
// segment past them (or leaves more than the one segment a crash can leave
// behind older than it) is not trusted, and every segment is replayed from
// the start rather than deleted; an offset that is not at an intact frame
// replays its segment from the start.
//
// Bounds. All segments together (acknowledged records still in a live
// segment included) and the quarantined `.damaged` files stay within
// max_bytes. Quarantined files give way first: an append that needs their
// room deletes the oldest of them. An append that would still go beyond the
// bound returns `full` and writes nothing; the caller then counts the batch
// as dropped with reason "spool_full".
//
// Threads. A spool has a single owner (the exporter's sink worker thread);
// it does no locking, and two spools must not share a directory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tracing/span.hpp"

namespace weft::tracing {

struct spool_options {
  /// A segment is closed (and fsync'd) once it holds at least this much.
  std::uint64_t segment_bytes = 8ULL << 20;
  /// Upper bound on the bytes of all segment files of the spool.
  std::uint64_t max_bytes = 1ULL << 30;
};

enum class spool_result {
  ok,
  full,      // nothing written: the record would exceed max_bytes
  io_error,  // see take_warnings() for the system's reason
};

/// Where a record sits in the spool. Opaque to callers: hand it back to
/// ack() unchanged.
struct spool_position {
  std::uint64_t segment = 0;
  std::uint64_t offset = 0;       // of the record's frame
  std::uint64_t next_offset = 0;  // just past it
};

/// A record returned by peek(): one batch, as it was appended.
struct spool_entry {
  std::vector<span_record> spans;
  spool_position position;
};

/// `<root>/<sink_name>`, with characters that could leave the directory
/// ('/', a leading '.') in the sink name replaced by '_'.
std::string spool_dir(const std::string& root, const std::string& sink_name);

class spool {
 public:
  /// Opens the spool in `dir`, creating the directory (and its parents) when
  /// missing, and scans the segments found there so that they are replayed.
  /// Returns nullptr and sets `error` (naming the path and the system's
  /// reason) when the directory cannot be created or read.
  static std::unique_ptr<spool> open(const std::string& dir, spool_options options,
                                     std::string* error);

  /// Closes the files, fsync'ing the current segment first (best effort:
  /// call sync() to learn whether that worked).
  ~spool();
  spool(const spool&) = delete;
  spool& operator=(const spool&) = delete;

  /// Appends `batch` as one record. Returns once the bytes are written with
  /// write(2), and also fsync'd when `fsync_now` is set. An empty batch
  /// writes nothing and returns ok. On `full` nothing is written. On
  /// `io_error` the write is undone when possible; if only the fsync failed
  /// the record stays and may still be replayed.
  spool_result append(const std::vector<span_record>& batch, bool fsync_now = false);

  /// fsyncs the current segment: everything appended so far survives a
  /// power failure. Returns ok or io_error.
  spool_result sync();

  /// The oldest record not yet acknowledged, or nullopt when there is none.
  /// Calling it again without ack() returns the same record. Damaged data met
  /// on the way is skipped and reported through take_warnings().
  std::optional<spool_entry> peek();

  /// Marks `entry` (the last one peek() returned) delivered. Acknowledging
  /// anything but the current oldest record does nothing, so a repeated ack
  /// is harmless.
  void ack(const spool_entry& entry);

  /// Problems met since the last call (damaged records, I/O errors), as
  /// lines for the log. Never holds span content.
  std::vector<std::string> take_warnings();

  /// Bytes of all segment files, quarantined ones included.
  std::uint64_t bytes() const { return bytes_; }
  /// Bytes of the quarantined `*.damaged` segment files in the directory.
  std::uint64_t bytes_quarantined() const { return quarantined_bytes_; }
  /// Damaged records (or runs of unreadable bytes) skipped since open.
  std::uint64_t records_damaged() const { return records_damaged_; }
  /// Number of segment files.
  std::size_t segments() const { return segments_.size(); }
  /// Records appended or found on disk and not yet acknowledged. Exact unless
  /// damaged data was found; even then it is never 0 while anything is left
  /// to read, so "records_pending() > 0" means "peek() has work".
  std::uint64_t records_pending() const { return pending_; }
  const std::string& dir() const { return dir_; }
  const spool_options& options() const { return options_; }

 private:
  struct segment {
    std::uint64_t number = 0;
    std::uint64_t size = 0;     // bytes in the file that belong to records
    std::uint64_t records = 0;  // records in it not yet acknowledged
    bool damaged = false;       // skipped damage: quarantine, do not delete
  };
  struct quarantined {
    std::uint64_t number = 0;
    std::uint64_t size = 0;
  };
  struct cursor {
    std::uint64_t segment = 0;
    std::uint64_t offset = 0;
  };
  // What reading one record found: an entry, or why the rest of its segment
  // is unreadable.
  struct read_result {
    std::optional<spool_entry> entry;
    std::string damage;
  };

  spool(std::string dir, spool_options options);
  bool scan(std::string* error);
  bool cursor_is_plausible(const cursor& saved, const std::vector<std::uint64_t>& numbers) const;
  std::uint64_t count_records(std::uint64_t number, std::uint64_t from, std::uint64_t size);
  read_result read_record(const segment& seg, std::uint64_t offset);
  bool intact_frame(std::uint64_t number, std::uint64_t size, std::uint64_t offset);
  std::uint64_t next_intact_frame(std::uint64_t number, std::uint64_t size, std::uint64_t from);
  void skip_damage(segment& front, const std::string& damage);
  void consume_record(segment& front);
  void quarantine(const segment& seg);
  bool free_quarantine(std::uint64_t needed);
  bool open_write_segment();
  void close_write_segment(bool fsync_first);
  bool is_write_segment(const segment& seg) const;
  void retire_front_segment();
  void save_cursor();
  int read_fd_for(std::uint64_t number, std::string& error);
  void close_read_fd();
  void warn(std::string message);
  std::string segment_path(std::uint64_t number) const;

  std::string dir_;
  spool_options options_;
  std::deque<segment> segments_;  // oldest first; the write segment is last
  cursor cursor_;                 // points into segments_.front() when any
  std::uint64_t next_number_ = 1;
  std::uint64_t bytes_ = 0;
  std::uint64_t pending_ = 0;
  int write_fd_ = -1;  // open on segments_.back(), or -1
  int read_fd_ = -1;
  std::uint64_t read_fd_number_ = 0;
  bool cursor_save_failed_ = false;     // to warn once per failure streak
  std::deque<quarantined> quarantine_;  // oldest first
  std::uint64_t quarantined_bytes_ = 0;
  std::uint64_t records_damaged_ = 0;
  std::string frame_;  // reused across appends
  std::vector<std::string> warnings_;
};

}  // namespace weft::tracing
