/* cgalr: everything public, one include. */
#ifndef CGALR_H
#define CGALR_H
#include "cgalr/status.h"
#include "cgalr/rng.h"
#include "cgalr/topo.h"
#include "cgalr/graph.h"
#include "cgalr/ctrl.h"
#include "cgalr/nn.h"
#include "cgalr/data.h"
#include "cgalr/train.h"
#include "cgalr/report.h"
#endif
