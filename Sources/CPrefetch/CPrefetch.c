// Everything is in the header (inline); SwiftPM needs a source file for the target.
#include "CPrefetch.h"
