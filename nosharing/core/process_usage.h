// What the process costs the kernel, for the "train" lines of metrics.jsonl (issue 22): minor
// page faults (each a page the kernel mapped afresh — a freed large buffer returned to the
// system and allocated again faults its pages in once more) and the resident set size.
#pragma once

#include <cstdint>

namespace nosharing {

// Minor page faults of the whole process so far (getrusage, RUSAGE_SELF).
int64_t minor_page_faults();

// Resident set size now, in MB (10^6 bytes; /proc/self/statm); 0 where it cannot be read.
double resident_megabytes();

}  // namespace nosharing
