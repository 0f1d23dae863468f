// The disk spool (see spool.hpp for the file layout and the guarantees).
#include "tracing/spool.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <limits>
#include <utility>

#include "tracing/span_msgpack.hpp"

namespace weft::tracing {
namespace {

constexpr std::size_t frame_header_bytes = 8;
constexpr std::string_view segment_prefix = "segment-";
constexpr std::string_view segment_suffix = ".wspool";
constexpr std::size_t segment_digits = 20;  // enough for any uint64
constexpr std::string_view cursor_file = "cursor";
constexpr std::string_view cursor_tmp_file = "cursor.tmp";
constexpr std::string_view cursor_magic = "weft-spool-cursor-v1";
constexpr std::string_view damaged_suffix = ".damaged";
// Every batch payload is a MessagePack array of two ([version, spans]), so
// its first byte is 0x92; the smallest batch takes 3 bytes. A cheap filter
// before the crc when scanning damaged bytes for the next frame.
constexpr unsigned char batch_marker = 0x92;
constexpr std::uint32_t min_payload_bytes = 3;
// How much of a segment a resynchronising scan reads at a time.
constexpr std::size_t scan_window_bytes = 1 << 20;

std::string system_error(const char* what, const std::string& path) {
  return std::string(what) + " " + path + ": " + std::strerror(errno);
}

std::string segment_name(std::uint64_t number) {
  char name[64];
  std::snprintf(name, sizeof name, "segment-%020llu.wspool",
                static_cast<unsigned long long>(number));
  return name;
}

std::optional<std::uint64_t> parse_segment_name(std::string_view name) {
  if (name.size() != segment_prefix.size() + segment_digits + segment_suffix.size() ||
      !name.starts_with(segment_prefix) || !name.ends_with(segment_suffix))
    return std::nullopt;
  auto digits = name.substr(segment_prefix.size(), segment_digits);
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return n;
}

// "segment-<n>.wspool.damaged" -> n.
std::optional<std::uint64_t> parse_damaged_name(std::string_view name) {
  if (!name.ends_with(damaged_suffix)) return std::nullopt;
  return parse_segment_name(name.substr(0, name.size() - damaged_suffix.size()));
}

// mkdir -p. Private to the owner (0700): spans can hold user content.
bool make_dirs(const std::string& dir, std::string& error) {
  for (std::size_t i = 1; i <= dir.size(); ++i) {
    if (i != dir.size() && dir[i] != '/') continue;
    std::string prefix = dir.substr(0, i);
    if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
      error = system_error("cannot create", prefix);
      return false;
    }
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    error = system_error("cannot stat", dir);
    return false;
  }
  if (!S_ISDIR(st.st_mode)) {
    error = "spool directory " + dir + " is not a directory";
    return false;
  }
  return true;
}

bool write_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (w == 0) {
      errno = EIO;
      return false;
    }
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// Reads exactly n bytes at `offset`; false on an error or an early end of
// file (errno is 0 then).
bool pread_all(int fd, char* data, std::size_t n, std::uint64_t offset) {
  while (n > 0) {
    ssize_t r = ::pread(fd, data, n, static_cast<off_t>(offset));
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (r == 0) {
      errno = 0;
      return false;
    }
    data += r;
    n -= static_cast<std::size_t>(r);
    offset += static_cast<std::uint64_t>(r);
  }
  return true;
}

void put_u32_le(char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}

std::uint32_t get_u32_le(const char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<std::uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

std::uint32_t crc_of(const char* data, std::size_t n) {
  return static_cast<std::uint32_t>(
      ::crc32(0L, reinterpret_cast<const Bytef*>(data), static_cast<uInt>(n)));
}

// Makes a new directory entry durable; best effort, as losing it only loses
// what an fsync of the file itself would not have protected anyway.
void sync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

std::string spool_dir(const std::string& root, const std::string& sink_name) {
  std::string name = sink_name.empty() ? "_" : sink_name;
  for (auto& c : name)
    if (c == '/' || c == '\0') c = '_';
  if (name[0] == '.') name[0] = '_';
  if (root.empty()) return name;
  return root.back() == '/' ? root + name : root + "/" + name;
}

spool::spool(std::string dir, spool_options options) : dir_(std::move(dir)), options_(options) {}

spool::~spool() {
  close_write_segment(true);
  close_read_fd();
}

std::unique_ptr<spool> spool::open(const std::string& dir, spool_options options,
                                   std::string* error) {
  std::string err;
  if (!make_dirs(dir, err)) {
    if (error) *error = err;
    return nullptr;
  }
  std::unique_ptr<spool> s(new spool(dir, options));
  if (!s->scan(error)) return nullptr;
  return s;
}

std::string spool::segment_path(std::uint64_t number) const {
  return dir_ + "/" + segment_name(number);
}

void spool::warn(std::string message) {
  warnings_.push_back("spool " + dir_ + ": " + std::move(message));
}

std::vector<std::string> spool::take_warnings() { return std::exchange(warnings_, {}); }

// Finds the segments a previous process left, restores the cursor, drops
// segments it had fully acknowledged, and counts what is left to replay.
bool spool::scan(std::string* error) {
  DIR* d = ::opendir(dir_.c_str());
  if (!d) {
    if (error) *error = system_error("cannot read spool directory", dir_);
    return false;
  }
  std::vector<std::uint64_t> numbers, damaged;
  while (dirent* e = ::readdir(d)) {
    if (auto n = parse_segment_name(e->d_name)) numbers.push_back(*n);
    else if (auto q = parse_damaged_name(e->d_name)) damaged.push_back(*q);
  }
  ::closedir(d);
  std::sort(numbers.begin(), numbers.end());
  std::sort(damaged.begin(), damaged.end());
  for (std::uint64_t number : damaged) {
    struct stat st {};
    if (::stat((segment_path(number) + std::string(damaged_suffix)).c_str(), &st) != 0 ||
        !S_ISREG(st.st_mode))
      continue;
    quarantine_.push_back({number, static_cast<std::uint64_t>(st.st_size)});
    quarantined_bytes_ += static_cast<std::uint64_t>(st.st_size);
    bytes_ += static_cast<std::uint64_t>(st.st_size);
  }
  ::unlink((dir_ + "/" + std::string(cursor_tmp_file)).c_str());  // from a crash mid-save

  // The cursor; when missing or unreadable, replay everything (duplicates
  // are allowed, losses are not).
  cursor saved;
  bool have_cursor = false;
  if (FILE* f = std::fopen((dir_ + "/" + std::string(cursor_file)).c_str(), "re")) {
    char buf[128] = {};
    std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    unsigned long long seg = 0, off = 0;
    char magic[32] = {};
    if (n > 0 && std::sscanf(buf, "%31s %llu %llu", magic, &seg, &off) == 3 &&
        cursor_magic == magic) {
      saved = {seg, off};
      have_cursor = true;
    } else {
      warn("cursor file is unreadable; replaying every segment from the start");
    }
  }

  if (have_cursor && !cursor_is_plausible(saved, numbers)) {
    warn("cursor names segment " + std::to_string(saved.segment) + " offset " +
         std::to_string(saved.offset) + ", which does not fit the segments present (" +
         segment_name(numbers.front()) + " to " + segment_name(numbers.back()) +
         "); replaying every segment from the start (records may be sent again)");
    have_cursor = false;
    saved = {};
  }

  for (std::uint64_t number : numbers) {
    const std::string path = segment_path(number);
    if (have_cursor && number < saved.segment) {
      // Fully acknowledged; the process stopped before deleting it.
      ::unlink(path.c_str());
      continue;
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      warn("cannot use " + segment_name(number) + ", skipped");
      continue;
    }
    segments_.push_back({number, static_cast<std::uint64_t>(st.st_size), 0});
    bytes_ += static_cast<std::uint64_t>(st.st_size);
  }

  if (!segments_.empty()) {
    auto& front = segments_.front();
    cursor_ = {front.number, 0};
    if (have_cursor && saved.segment == front.number) {
      if (saved.offset == front.size ||
          (saved.offset < front.size && intact_frame(front.number, front.size, saved.offset))) {
        cursor_.offset = saved.offset;
      } else if (saved.offset < front.size) {
        warn("cursor offset " + std::to_string(saved.offset) + " is not at a record of " +
             segment_name(front.number) + "; replaying it from the start");
      } else {
        warn("cursor offset " + std::to_string(saved.offset) + " lies past the end of " +
             segment_name(front.number) + "; replaying it from the start");
      }
    }
  }
  for (auto& seg : segments_) {
    seg.records =
        count_records(seg.number, seg.number == cursor_.segment ? cursor_.offset : 0, seg.size);
    pending_ += seg.records;
  }
  next_number_ = std::max({segments_.empty() ? 0 : segments_.back().number, saved.segment,
                           quarantine_.empty() ? 0 : quarantine_.back().number}) +
                 1;
  // A smaller bound than the last process had: old quarantine goes first.
  if (bytes_ > options_.max_bytes) free_quarantine(bytes_ - options_.max_bytes);
  return true;
}

// A crash between saving the cursor and deleting the segment it passed
// leaves exactly one segment older than the cursor, numbered one below it.
// Anything else (a cursor past the newest segment with several segments
// behind it, say) did not come from this spool's own bookkeeping: deleting
// what it calls acknowledged could throw away everything.
bool spool::cursor_is_plausible(const cursor& saved,
                                const std::vector<std::uint64_t>& numbers) const {
  std::size_t older = 0;
  for (std::uint64_t n : numbers) older += n < saved.segment ? 1 : 0;
  if (older == 0) return true;
  return older == 1 && numbers.front() + 1 == saved.segment;
}

// Walks the frame headers (without reading payloads) to count records; it
// stops at the first length that does not fit, where replay will report
// damage.
std::uint64_t spool::count_records(std::uint64_t number, std::uint64_t from, std::uint64_t size) {
  std::string err;
  int fd = read_fd_for(number, err);
  if (fd < 0) return 0;
  std::uint64_t count = 0;
  char header[frame_header_bytes];
  while (size - from >= frame_header_bytes) {
    fd = read_fd_for(number, err);
    if (fd < 0 || !pread_all(fd, header, sizeof header, from)) break;
    const std::uint64_t len = get_u32_le(header);
    if (len > size - from - frame_header_bytes) {
      from = next_intact_frame(number, size, from + 1);  // as peek() will
      continue;
    }
    from += frame_header_bytes + len;
    ++count;
  }
  // Damage can hide records from a count by headers alone; peek() must
  // still be asked while bytes are left.
  return std::max<std::uint64_t>(count, from < size ? 1 : 0);
}

// Whether a whole, matching record starts at `offset`: its length fits the
// segment, its payload looks like a batch and its crc matches.
bool spool::intact_frame(std::uint64_t number, std::uint64_t size, std::uint64_t offset) {
  std::string err;
  int fd = read_fd_for(number, err);
  if (fd < 0 || offset > size || size - offset < frame_header_bytes + min_payload_bytes)
    return false;
  char header[frame_header_bytes + 1];
  if (!pread_all(fd, header, sizeof header, offset)) return false;
  const std::uint32_t len = get_u32_le(header);
  if (len < min_payload_bytes || len > size - offset - frame_header_bytes ||
      static_cast<unsigned char>(header[frame_header_bytes]) != batch_marker)
    return false;
  // The crc in pieces, so a scan over a damaged segment never holds a whole
  // (possibly bogus) record in memory.
  uLong crc = ::crc32(0L, Z_NULL, 0);
  char buf[64 * 1024];
  std::uint64_t at = offset + frame_header_bytes;
  for (std::uint32_t left = len; left > 0;) {
    const auto n = static_cast<std::uint32_t>(std::min<std::size_t>(left, sizeof buf));
    if (!pread_all(fd, buf, n, at)) return false;
    crc = ::crc32(crc, reinterpret_cast<const Bytef*>(buf), n);
    at += n;
    left -= n;
  }
  return static_cast<std::uint32_t>(crc) == get_u32_le(header + 4);
}

// The first intact frame at or after `from`, or `size` when none is left.
// Candidates are filtered on the bytes at hand (length in bounds, batch
// marker) before their crc is computed, so the scan reads a damaged
// segment about once.
std::uint64_t spool::next_intact_frame(std::uint64_t number, std::uint64_t size,
                                       std::uint64_t from) {
  std::string window;
  constexpr std::size_t need = frame_header_bytes + 1;  // header and the payload's first byte
  while (from < size && size - from >= frame_header_bytes + min_payload_bytes) {
    std::string err;
    int fd = read_fd_for(number, err);
    if (fd < 0) return size;
    const auto n =
        static_cast<std::size_t>(std::min<std::uint64_t>(scan_window_bytes, size - from));
    window.resize(n);
    if (!pread_all(fd, window.data(), n, from)) return size;
    if (n < need) return size;
    for (std::size_t i = 0; i + need <= n; ++i) {
      const std::uint64_t at = from + i;
      const std::uint32_t len = get_u32_le(window.data() + i);
      if (len < min_payload_bytes || len > size - at - frame_header_bytes ||
          static_cast<unsigned char>(window[i + frame_header_bytes]) != batch_marker)
        continue;
      if (intact_frame(number, size, at)) return at;
    }
    from += n - need + 1;
  }
  return size;
}

int spool::read_fd_for(std::uint64_t number, std::string& error) {
  if (read_fd_ >= 0 && read_fd_number_ == number) return read_fd_;
  close_read_fd();
  const std::string path = segment_path(number);
  read_fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (read_fd_ < 0) {
    error = std::strerror(errno);
    return -1;
  }
  read_fd_number_ = number;
  return read_fd_;
}

void spool::close_read_fd() {
  if (read_fd_ >= 0) ::close(read_fd_);
  read_fd_ = -1;
}

bool spool::is_write_segment(const spool::segment& seg) const {
  return write_fd_ >= 0 && !segments_.empty() && &segments_.back() == &seg;
}

bool spool::open_write_segment() {
  const std::uint64_t number = next_number_;
  const std::string path = segment_path(number);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    warn(system_error("cannot create", path));
    return false;
  }
  ++next_number_;
  sync_dir(dir_);
  write_fd_ = fd;
  segments_.push_back({number, 0, 0});
  if (segments_.size() == 1) cursor_ = {number, 0};
  return true;
}

void spool::close_write_segment(bool fsync_first) {
  if (write_fd_ < 0) return;
  if (fsync_first && ::fdatasync(write_fd_) != 0)
    warn(system_error("cannot fsync", segment_path(segments_.back().number)));
  ::close(write_fd_);
  write_fd_ = -1;
}

spool_result spool::append(const std::vector<span_record>& batch, bool fsync_now) {
  if (batch.empty()) return spool_result::ok;
  frame_.assign(frame_header_bytes, '\0');
  encode_span_batch(frame_, batch);
  const std::size_t payload = frame_.size() - frame_header_bytes;
  if (payload > std::numeric_limits<std::uint32_t>::max() || frame_.size() > options_.max_bytes)
    return spool_result::full;
  // Live spans come before forensic copies of damaged ones.
  if (bytes_ + frame_.size() > options_.max_bytes &&
      !free_quarantine(bytes_ + frame_.size() - options_.max_bytes))
    return spool_result::full;
  put_u32_le(frame_.data(), static_cast<std::uint32_t>(payload));
  put_u32_le(frame_.data() + 4, crc_of(frame_.data() + frame_header_bytes, payload));

  if (write_fd_ < 0 && !open_write_segment()) return spool_result::io_error;
  segment& seg = segments_.back();
  if (!write_all(write_fd_, frame_.data(), frame_.size())) {
    warn(system_error("cannot write", segment_path(seg.number)));
    // Cut a partial record off again; if that fails too, stop appending to
    // this segment so the torn record stays its last (replay then ends the
    // segment there and reports it).
    if (::ftruncate(write_fd_, static_cast<off_t>(seg.size)) != 0) close_write_segment(false);
    return spool_result::io_error;
  }
  seg.size += frame_.size();
  ++seg.records;
  bytes_ += frame_.size();
  ++pending_;

  spool_result result = spool_result::ok;
  if (fsync_now && ::fdatasync(write_fd_) != 0) {
    warn(system_error("cannot fsync", segment_path(seg.number)));
    result = spool_result::io_error;
  }
  if (seg.size >= options_.segment_bytes) close_write_segment(true);
  return result;
}

spool_result spool::sync() {
  if (write_fd_ < 0) return spool_result::ok;  // closed segments were fsync'd
  if (::fdatasync(write_fd_) != 0) {
    warn(system_error("cannot fsync", segment_path(segments_.back().number)));
    return spool_result::io_error;
  }
  return spool_result::ok;
}

spool::read_result spool::read_record(const segment& seg, std::uint64_t offset) {
  read_result r;
  std::string err;
  int fd = read_fd_for(seg.number, err);
  if (fd < 0) {
    r.damage = "cannot open: " + err;
    return r;
  }
  const std::uint64_t left = seg.size - offset;
  if (left < frame_header_bytes) {
    r.damage = "truncated record header";
    return r;
  }
  char header[frame_header_bytes];
  if (!pread_all(fd, header, sizeof header, offset)) {
    r.damage =
        errno ? std::string("read error: ") + std::strerror(errno) : "unexpected end of file";
    return r;
  }
  const std::uint32_t len = get_u32_le(header);
  if (len > left - frame_header_bytes) {
    r.damage = "record length " + std::to_string(len) + " runs past the end of the segment";
    return r;
  }
  std::string payload(len, '\0');
  if (!pread_all(fd, payload.data(), len, offset + frame_header_bytes)) {
    r.damage =
        errno ? std::string("read error: ") + std::strerror(errno) : "unexpected end of file";
    return r;
  }
  if (crc_of(payload.data(), len) != get_u32_le(header + 4)) {
    r.damage = "crc mismatch";
    return r;
  }
  spool_entry e;
  if (!decode_span_batch(payload, e.spans, &err)) {
    r.damage = "undecodable record (" + err + ")";
    return r;
  }
  e.position = {seg.number, offset, offset + frame_header_bytes + len};
  r.entry = std::move(e);
  return r;
}

std::optional<spool_entry> spool::peek() {
  while (!segments_.empty()) {
    segment& front = segments_.front();
    if (cursor_.offset >= front.size) {
      if (is_write_segment(front)) return std::nullopt;  // all caught up
      retire_front_segment();                            // fully acknowledged
      continue;
    }
    read_result r = read_record(front, cursor_.offset);
    if (r.entry) return std::move(r.entry);
    skip_damage(front, r.damage);
  }
  return std::nullopt;
}

// Steps over one damaged record: to the next intact frame after it, found
// by scanning (which also lands right after the record when only its crc
// or payload was hit and its length still holds).
void spool::skip_damage(segment& front, const std::string& damage) {
  const std::uint64_t at = cursor_.offset;
  const std::uint64_t next = next_intact_frame(front.number, front.size, at + 1);
  ++records_damaged_;
  front.damaged = true;
  warn(segment_name(front.number) + ": damaged record at offset " + std::to_string(at) + " (" +
       damage + "); " + std::to_string(next - at) + " bytes skipped" +
       (next < front.size ? ", replay goes on at offset " + std::to_string(next)
                          : ", nothing readable after it") +
       "; the segment will be kept as " + segment_name(front.number) + std::string(damaged_suffix));
  cursor_.offset = next;
  consume_record(front);
  if (next < front.size) save_cursor();
}

// One record of the front segment is done (delivered or skipped). The
// count keeps at least one while bytes are left (see records_pending()).
void spool::consume_record(segment& front) {
  if (front.records == 0) return;
  if (front.records == 1 && cursor_.offset < front.size) return;
  --front.records;
  --pending_;
}

void spool::ack(const spool_entry& entry) {
  if (segments_.empty()) return;
  segment& front = segments_.front();
  const auto& pos = entry.position;
  if (pos.segment != cursor_.segment || pos.offset != cursor_.offset ||
      pos.next_offset <= pos.offset || pos.next_offset > front.size)
    return;  // stale or repeated
  cursor_.offset = pos.next_offset;
  consume_record(front);
  // Once everything is delivered the spool holds no files at all, even the
  // segment being written: the next append simply starts a new one.
  if (cursor_.offset >= front.size) retire_front_segment();
  else save_cursor();
}

// Retires the oldest segment (deleted when fully acknowledged, quarantined
// when it held damage) and moves the
// cursor to the next. The cursor is saved first: a crash in between leaves
// a segment older than the cursor, which the next open deletes.
void spool::retire_front_segment() {
  segment front = segments_.front();
  if (is_write_segment(segments_.front())) close_write_segment(false);
  if (read_fd_ >= 0 && read_fd_number_ == front.number) close_read_fd();
  cursor_ = {front.number + 1, 0};
  save_cursor();
  const std::string path = segment_path(front.number);
  if (front.damaged) {
    quarantine(front);
  } else {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) warn(system_error("cannot delete", path));
    bytes_ -= front.size;
  }
  pending_ -= std::min(pending_, front.records);
  segments_.pop_front();
  if (!segments_.empty()) cursor_ = {segments_.front().number, 0};
}

// Keeps a replayed segment that held damage, renamed so that it is never
// replayed again, for someone to look at; its bytes stay in the budget.
void spool::quarantine(const segment& seg) {
  const std::string path = segment_path(seg.number);
  const std::string target = path + std::string(damaged_suffix);
  if (::rename(path.c_str(), target.c_str()) != 0) {
    warn(system_error("cannot quarantine", path) + "; deleting it");
    ::unlink(path.c_str());
    bytes_ -= seg.size;
    return;
  }
  quarantine_.push_back({seg.number, seg.size});
  quarantined_bytes_ += seg.size;
  if (bytes_ > options_.max_bytes) free_quarantine(bytes_ - options_.max_bytes);
}

// Deletes quarantined files, oldest first, until `needed` bytes are free;
// false when there was not that much quarantine to delete.
bool spool::free_quarantine(std::uint64_t needed) {
  std::uint64_t freed = 0;
  while (freed < needed && !quarantine_.empty()) {
    const quarantined q = quarantine_.front();
    quarantine_.pop_front();
    const std::string path = segment_path(q.number) + std::string(damaged_suffix);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) warn(system_error("cannot delete", path));
    else
      warn("deleted quarantined " + segment_name(q.number) + std::string(damaged_suffix) +
           " to make room in the spool");
    freed += q.size;
    quarantined_bytes_ -= std::min(quarantined_bytes_, q.size);
    bytes_ -= std::min(bytes_, q.size);
  }
  return freed >= needed;
}

void spool::save_cursor() {
  const std::string tmp = dir_ + "/" + std::string(cursor_tmp_file);
  const std::string path = dir_ + "/" + std::string(cursor_file);
  char text[96];
  int n = std::snprintf(text, sizeof text, "%s %llu %llu\n", cursor_magic.data(),
                        static_cast<unsigned long long>(cursor_.segment),
                        static_cast<unsigned long long>(cursor_.offset));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  bool ok = fd >= 0 && write_all(fd, text, static_cast<std::size_t>(n));
  if (fd >= 0) ::close(fd);
  ok = ok && ::rename(tmp.c_str(), path.c_str()) == 0;
  if (!ok && !cursor_save_failed_)
    warn(system_error("cannot save the cursor to", path) +
         " (records may be sent again after a restart)");
  cursor_save_failed_ = !ok;
}

}  // namespace weft::tracing
