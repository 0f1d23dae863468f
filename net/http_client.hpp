// The http_client actor: weft's one way to talk HTTP(S) to a backend.
//
// Protocol:
//   http_request -> http_response
//   (http_start_atom, caf::actor to, uint64_t tag, bool stream, http_request)
//       -> nothing; later, to `to`:
//          (http_chunk_atom, tag, http_chunk)      zero or more, when stream
//          (http_result_atom, tag, http_response)  exactly once, last
//   (http_abort_atom, caf::actor to, uint64_t tag) -> nothing
//
// The second form is for callers that must stream or abort (node actors,
// for node_context::http): `tag` is the caller's own name for the request,
// unique per `to`. With `stream`, the body arrives in chunks as libcurl
// reads it and the result's body is empty. Backpressure: at most
// stream_window_bytes of a request's chunks exist unconsumed at once (a
// chunk counts until its last copy is destroyed, i.e. once the receiver
// has handled or dropped the message); past that the transfer pauses
// until the receiver catches up, so a slow receiver's mailbox stays
// bounded. Each chunk is one libcurl read, at most CURL_MAX_WRITE_SIZE
// (16 KiB) of plain bytes. The whole streamed body counts against
// max_response_bytes like a kept one.
// An abort removes the transfer from libcurl at once: an unfinished HTTP/1
// exchange's connection is closed (the server sees it), and nothing more
// is sent to `to` for that tag, ever (chunks sent before the abort may
// still be in `to`'s mailbox: the receiver drops tags it no longer knows).
// If the client exits first, streamed requests get a result with
// transport_error::aborted.
//
// Every request gets exactly one http_response. An answer from the server,
// whatever its status, has error == none; the client never retries, follows
// no redirects and leaves retry policy to the caller (the exporter). When no
// answer came back the response carries a transport_error and a readable
// message instead: these are values, not caf::errors, so callers handle
// "backend said 503" and "backend unreachable" in one place. Requests still
// pending when the actor exits are answered with error == other and the
// message "http client shut down".
//
// Threading. Blocking is what a scheduler thread must never do, and libcurl's
// multi interface is the way to do many transfers without blocking; but
// driving it needs a thread that waits on sockets. So:
//   - The actor (event-based, on the scheduler) owns all bookkeeping: it
//     keeps one caf::response_promise per request under a numeric token.
//   - It owns one worker thread (net/curl_worker.hpp), started when the actor
//     starts and joined when it exits. The actor hands each request to the
//     worker through a mutex-protected inbox and curl_multi_wakeup(); the
//     actor never waits for anything but that short lock.
//   - The worker thread alone touches the curl handles. It runs the
//     curl_multi_poll() loop and, when a transfer ends, anon_sends the
//     response with its token back to the actor, which fulfils the promise.
// One client therefore costs one thread, however many transfers it runs.
//
// Connections. The worker keeps one multi handle for its lifetime, so
// libcurl's connection cache keeps connections alive between requests
// (HTTP/1.1 keep-alive, or HTTP/2 multiplexing for https backends that offer
// it), and reuses easy handles from a pool. Requests beyond the connection
// limits below wait inside libcurl for a free connection; their timeout runs
// while they wait.
//
// Security. TLS peer and host verification are on unless verify_tls is
// false. Only http and https URLs are accepted. Request headers are never
// copied into error messages, because they carry API keys.
#pragma once

#include <cstddef>
#include <string>

#include <caf/all.hpp>

#include "net/http_types.hpp"

namespace weft::net {

struct http_client_config {
  bool verify_tls = true;
  long max_connections_per_host = 8;
  long max_total_connections = 64;
  std::string user_agent = "weft/0.1";
  /// A larger response body fails the request (error other), so that a
  /// misbehaving server cannot exhaust memory; a request with
  /// keep_body_bytes keeps less and never fails for its size.
  std::size_t max_response_bytes = 64u << 20;
  /// Per streamed request: the most bytes of chunks handed out and not yet
  /// consumed by the receiver before the transfer pauses.
  std::size_t stream_window_bytes = 1u << 20;
};

// Atom names are limited to 10 characters in CAF 0.17.
using http_start_atom = caf::atom_constant<caf::atom("wHttpStart")>;
using http_abort_atom = caf::atom_constant<caf::atom("wHttpAbort")>;
using http_chunk_atom = caf::atom_constant<caf::atom("wHttpChunk")>;
using http_result_atom = caf::atom_constant<caf::atom("wHttpRes")>;
/// The client's own worker thread reports a finished transfer (by its
/// internal token) with this; nobody else sends it.
using http_done_atom = caf::atom_constant<caf::atom("wHttpDone")>;

/// The protocol above, as a type: every send to the client is checked by
/// the compiler. Receivers of the streamed form stay dynamically typed
/// (`to` is a caf::actor), since any actor may make requests.
using http_client_actor =
    caf::typed_actor<caf::replies_to<http_request>::with<http_response>,
                     caf::reacts_to<http_start_atom, caf::actor, std::uint64_t, bool, http_request>,
                     caf::reacts_to<http_abort_atom, caf::actor, std::uint64_t>,
                     caf::reacts_to<http_done_atom, std::uint64_t, http_response>>;

/// Spawns a client. Each client owns one worker thread and one connection
/// cache; share a client rather than spawning one per request.
http_client_actor spawn_http_client(caf::actor_system& sys, http_client_config cfg = {});

}  // namespace weft::net
