/* The monotonic clock in seconds, for the times a run reports (epoch seconds, the controller's
 * share); never for anything that affects results. */
#ifndef CGALR_CORE_CLOCK_H
#define CGALR_CORE_CLOCK_H

double core_now(void);

#endif
