/* Running under an MPI launcher (mpirun, srun): which rank this process is, how many there are,
 * and the work queue that `cgalr grid` uses to spread its runs over the ranks.
 * Built without MPI (CGALR_MPI=OFF, or no Open MPI at build time) every process is rank 0 of 1,
 * except that a launch by mpirun with more than one rank is refused with a message, since the
 * ranks would otherwise each run the whole grid. Only processes started by a launcher initialise
 * MPI: a plain `cgalr` never touches it, and the runs a grid starts are told not to
 * (CGALR_NO_MPI=1 in their environment). */
#ifndef CGALR_CLI_DIST_H
#define CGALR_CLI_DIST_H

#include <sys/types.h>

#include "cgalr/train.h"

/* Called first in main. 0, or an exit code (the message printed by rank 0). */
int cli_dist_init(int *argc, char ***argv);
/* Called last in main, with the exit code main is about to return. */
void cli_dist_finalize(void);
int cli_dist_rank(void);
int cli_dist_size(void);
/* This rank's host name (for messages naming where something failed). */
const char *cli_dist_host(void);
/* 1 when the tool was built with MPI. */
int cli_dist_built_with_mpi(void);

/* Data-parallel `cgalr train`: the collectives over every rank (NULL on one rank). */
const cgalr_train_comm_t *cli_dist_comm(void);
/* Ends every rank of the job (after a rank's error, which must not leave the others waiting in
 * a collective); returns only on one rank. */
void cli_dist_abort(int rc);

/* ---- the grid's work queue (ranks > 0 are workers, rank 0 hands out runs) --------------- */

/* Starts a run: `cgalr ARGS` in a child process with stdout and stderr appended to DIR/train.log,
 * killed with its parent. The child's pid, or -1 with errno. */
pid_t cli_spawn_run(const char *self, char **args, const char *dir);

/* Rank 0: tells the workers whether the grid goes ahead (jobs = runs per rank) or not (jobs = 0:
 * they exit with rc). Called once; further calls do nothing. */
void cli_gq_start(long jobs, int rc);
/* Rank 0: sends run INDEX (DIR, and the argv of `cgalr train` after "cgalr") to the worker
 * RANK, which asked for work. 0, or -1 with a message printed. */
int cli_gq_send(int rank, long index, const char *dir, char **args);
/* Rank 0: tells RANK that one of its slots gets no more work. */
void cli_gq_close(int rank);
/* Rank 0: a message from a worker, if one is waiting: 1 with *rank and either *index = -1 (a
 * free slot asks for work) or the index of a run it finished with its exit code *rc (and then
 * the slot asks for more); 0 when none. *rc is CLI_GQ_NOT_SHARED when the worker could not see
 * the run's directory. */
int cli_gq_poll(int *rank, long *index, int *rc);
#define CLI_GQ_NOT_SHARED 250
/* Ranks > 0: serves rank 0 until it closes every slot; the exit code. */
int cli_gq_worker(void);

#endif
