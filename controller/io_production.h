/* io_production.h — the production I/O of the controller (io_production.c). */
#ifndef DROVER_CTL_IO_PRODUCTION_H
#define DROVER_CTL_IO_PRODUCTION_H

#include "ctl.h"

/* Wires the production table into c (its context is c itself: c->etcdq, c->broker, c->events,
 * c->api, c->leader). */
void ctl_io_use_production(ctl *c);

#endif
