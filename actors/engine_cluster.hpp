// The engine's side of a cluster (cluster/): a prepared run as a request
// for a worker, a worker's reply as the caller's run_result, and a run's
// result as the reply a worker sends back, and an observed run's events. engine.cpp dispatches with
// these; engine_internals::run_for_front runs what a front sent.
#pragma once

#include <string>

#include "actors/run_actor.hpp"
#include "cluster/dispatcher.hpp"
#include "cluster/wire.hpp"
#include "tracing/span.hpp"
#include "weft/engine.hpp"
#include "weft/events.hpp"

namespace weft::actors {

/// The request for a job prepared to run: its flow by name and content
/// hash, inputs as JSON, its trace context and what is left of its budget.
cluster::run_request make_run_request(const run_job& job);

/// The caller's result: the worker's reply, or why there was none.
run_result result_from_reply(cluster::run_reply r, cluster::dispatch_failure why);

/// What a worker sends back for a run it ran.
cluster::run_reply reply_from_result(const run_result& r);

/// The front's span of a dispatched run: the root of the run's trace (or
/// the child of the caller's span), opened before the run leaves this
/// process. The worker's run span is its child. It is what the trace still
/// shows when the worker dies with the run: closed here with the error.
tracing::span_record open_dispatch_span(const run_job& job);

/// Ends the dispatch span with the run's outcome as the caller sees it.
void close_dispatch_span(tracing::span_record& s, const run_result& r);

/// The event `json` (run_event::to_json's text, from a worker) back as an
/// event; false for anything else, which the caller drops.
bool event_from_json(const std::string& json, run_event& out);
/// The same from the parsed object.
bool event_from_value(const flows::value& j, run_event& out);

/// This process as its workers see it: host name and pid.
std::string front_name();

}  // namespace weft::actors
