// Checks of flow text before yaml-cpp sees it.
//
// Internal to the flow loader. yaml-cpp 0.7 copes badly with some input: it
// recurses once per nesting level, and asked for all documents of a text
// that starts with ',' it loops forever, allocating (jbeder/yaml-cpp#1040).
// These checks run on the raw text, in one linear pass each, so that
// yaml-cpp only ever sees text it handles well.
#pragma once

#include <string>
#include <string_view>

#include "flows/diagnostic.hpp"

namespace weft::flows {

/// Checks that `text` is within max_flow_bytes, valid UTF-8 (strings must
/// survive being dumped as JSON later), free of control characters other
/// than tab, CR and LF, and not absurdly nested. False, with a diagnostic,
/// when it is not.
bool check_flow_text(std::string_view text, const std::string& file, diagnostics& errs);

/// The YAML documents in a text, found from the markers at the start of
/// lines: `---` opens a document, `...` closes one, and content outside a
/// document opens one. YAML forbids both markers at the start of a line
/// anywhere else, so this needs no parse.
struct document_scan {
  int count = 0;
  int second_line = 0;       // where the second document starts (1-based)
  int stray_comma_line = 0;  // where the first document's content starts,
  int stray_comma_col = 0;   // if that is a ',' (0 otherwise)
};

document_scan scan_documents(std::string_view text);

}  // namespace weft::flows
