/* MPI for the cgalr tool (see dist.h): initialisation, the rank, and the grid's work queue. The
 * queue is request and reply: each slot of a worker (--jobs runs per rank) asks rank 0 for a run,
 * runs it as a child process exactly as a local grid does, reports its exit code and asks again;
 * rank 0 answers every request with a run or with "closed". Rank 0 only polls (never blocks in
 * MPI), so it can watch its own runs meanwhile; a worker blocks only while rank 0 is answering.
 * The run directories live on a file system every rank sees; rank 0 prepares them, checks what
 * a finished run left there, and alone writes the grid's own files. */
#include "cli/dist.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"

#ifdef CGALR_HAVE_MPI
#include <mpi.h>
#endif

static int dist_rank = 0, dist_size = 1;
#ifdef CGALR_HAVE_MPI
static int dist_mpi = 0; /* MPI_Init was called (and MPI_Finalize is due) */
#endif
static char dist_hostname[256] = "";

/* Whether a launcher started us, and the world size and rank it announces (-1 when unknown). */
static int launched(long *size, long *rank)
{
    static const char *const sizes[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_NTASKS"};
    static const char *const ranks[] = {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID"};
    *size = *rank = -1;
    const char *no = getenv("CGALR_NO_MPI");
    if (no && *no && strcmp(no, "0"))
        return 0;
    int found = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        const char *s = getenv(sizes[i]), *r = getenv(ranks[i]);
        if (i == 3 && !getenv("SLURM_STEP_ID")) /* inside an allocation but not started by srun */
            continue;
        if (s && *size < 0)
            *size = strtol(s, NULL, 10);
        if (r && *rank < 0)
            *rank = strtol(r, NULL, 10);
        found |= s != NULL || r != NULL;
    }
    found |= getenv("PMIX_RANK") != NULL || getenv("OMPI_COMM_WORLD_RANK") != NULL;
    return found;
}

int cli_dist_built_with_mpi(void)
{
#ifdef CGALR_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

int cli_dist_init(int *argc, char ***argv)
{
    long size, rank;
    if (gethostname(dist_hostname, sizeof dist_hostname - 1) != 0)
        snprintf(dist_hostname, sizeof dist_hostname, "?");
    if (!launched(&size, &rank))
        return 0;
#ifdef CGALR_HAVE_MPI
    (void)size;
    (void)rank;
    if (MPI_Init(argc, argv) != MPI_SUCCESS) {
        fprintf(stderr, "cgalr: MPI_Init failed (started by an MPI launcher); run without mpirun or srun, "
                        "or set CGALR_NO_MPI=1\n");
        return CGALR_EXIT_FAIL;
    }
    dist_mpi = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &dist_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &dist_size);
    return 0;
#else
    (void)argc;
    (void)argv;
    if (size <= 1)
        return 0;
    if (rank <= 0)
        fprintf(stderr, "cgalr: started by an MPI launcher with %ld ranks, but this cgalr was built without MPI "
                        "(Open MPI was missing at build time, or CGALR_MPI=OFF): each rank would run the whole "
                        "command; install libopenmpi-dev and rebuild, or run one process\n",
                size);
    return CGALR_EXIT_USAGE;
#endif
}

void cli_dist_finalize(void)
{
#ifdef CGALR_HAVE_MPI
    if (dist_mpi) {
        fflush(NULL);
        MPI_Finalize();
        dist_mpi = 0;
    }
#endif
}

int cli_dist_rank(void)
{
    return dist_rank;
}

int cli_dist_size(void)
{
    return dist_size;
}

const char *cli_dist_host(void)
{
    return dist_hostname;
}

pid_t cli_spawn_run(const char *self, char **args, const char *dir)
{
    char logp[4200];
    snprintf(logp, sizeof logp, "%s/train.log", dir);
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    /* the run dies with the grid (kill -9 included): no orphan keeps writing after it; it
     * resumes from its last checkpoint when the grid is rerun */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) /* the grid died before prctl took effect */
        _exit(CGALR_EXIT_FAIL);
    int fd = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    /* a run is one process, whatever launched the grid */
    setenv("CGALR_NO_MPI", "1", 1);
    /* the running binary itself, even if a rebuild replaced the file meanwhile: every run of
     * a grid uses the same program */
    execv("/proc/self/exe", args);
    execv(self, args);
    _exit(127);
}

#ifdef CGALR_HAVE_MPI

enum { TAG_ASK = 11, TAG_RUN = 12, TAG_CLOSE = 13 };

static int gq_started = 0;

void cli_gq_start(long jobs, int rc)
{
    if (!dist_mpi || dist_size < 2 || gq_started)
        return;
    gq_started = 1;
    long hdr[2] = {jobs, rc};
    MPI_Bcast(hdr, 2, MPI_LONG, 0, MPI_COMM_WORLD);
}

int cli_gq_send(int rank, long index, const char *dir, char **args)
{
    /* index, dir, then the arguments, each NUL-terminated */
    char head[32];
    int hl = snprintf(head, sizeof head, "%ld", index) + 1;
    size_t n = (size_t)hl + strlen(dir) + 1;
    for (char **a = args; *a; a++)
        n += strlen(*a) + 1;
    if (n > (size_t)1 << 30) {
        fprintf(stderr, "cgalr grid: run %s: its command line is too long to send\n", dir);
        return -1;
    }
    char *buf = malloc(n), *p = buf;
    if (!buf) {
        fprintf(stderr, "cgalr grid: out of memory\n");
        return -1;
    }
    memcpy(p, head, (size_t)hl);
    p += hl;
    memcpy(p, dir, strlen(dir) + 1);
    p += strlen(dir) + 1;
    for (char **a = args; *a; a++) {
        memcpy(p, *a, strlen(*a) + 1);
        p += strlen(*a) + 1;
    }
    int ok = MPI_Send(buf, (int)n, MPI_CHAR, rank, TAG_RUN, MPI_COMM_WORLD) == MPI_SUCCESS;
    free(buf);
    if (!ok) {
        fprintf(stderr, "cgalr grid: cannot send run %s to rank %d\n", dir, rank);
        return -1;
    }
    return 0;
}

void cli_gq_close(int rank)
{
    MPI_Send(NULL, 0, MPI_CHAR, rank, TAG_CLOSE, MPI_COMM_WORLD);
}

int cli_gq_poll(int *rank, long *index, int *rc)
{
    int flag = 0;
    MPI_Status s;
    if (!dist_mpi || MPI_Iprobe(MPI_ANY_SOURCE, TAG_ASK, MPI_COMM_WORLD, &flag, &s) != MPI_SUCCESS || !flag)
        return 0;
    long msg[2];
    MPI_Recv(msg, 2, MPI_LONG, s.MPI_SOURCE, TAG_ASK, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    *rank = s.MPI_SOURCE;
    *index = msg[0];
    *rc = (int)msg[1];
    return 1;
}

static volatile sig_atomic_t worker_stop = 0;

static void worker_on_signal(int sig)
{
    (void)sig;
    worker_stop = 1;
}

typedef struct {
    pid_t pid;
    long index;
} worker_slot;

/* Asks for work for one slot (reporting the run it finished, if any) until a run starts or the
 * slot is closed; 1 when a run started in *slot. */
static int worker_ask(const char *self, long done, int rc, worker_slot *slot)
{
    for (;;) {
        long msg[2] = {done, rc};
        MPI_Send(msg, 2, MPI_LONG, 0, TAG_ASK, MPI_COMM_WORLD);
        MPI_Status s;
        MPI_Probe(0, MPI_ANY_TAG, MPI_COMM_WORLD, &s);
        int n = 0;
        MPI_Get_count(&s, MPI_CHAR, &n);
        char *buf = malloc((size_t)n + 1);
        MPI_Recv(buf, n, MPI_CHAR, 0, s.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (s.MPI_TAG != TAG_RUN || !buf) {
            free(buf);
            return 0;
        }
        buf[n] = '\0';
        /* index, dir, args: count the arguments, then point into the buffer */
        long index = strtol(buf, NULL, 10);
        char *dir = buf + strlen(buf) + 1, *p = dir + strlen(dir) + 1;
        size_t na = 0;
        for (char *q = p; q < buf + n; q += strlen(q) + 1)
            na++;
        char **args = calloc(na + 1, sizeof *args);
        for (size_t i = 0; args && i < na; i++, p += strlen(p) + 1)
            args[i] = p;
        struct stat st;
        if (!args || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "cgalr grid (rank %d on %s): run directory %s: %s: the grid's --out must be on a file "
                            "system that every rank sees, at the same path\n",
                    dist_rank, dist_hostname, dir, args ? strerror(errno) : "out of memory");
            free(args);
            free(buf);
            done = index;
            rc = CLI_GQ_NOT_SHARED;
            continue;
        }
        slot->pid = cli_spawn_run(self, args, dir);
        slot->index = index;
        int err = errno;
        free(args);
        free(buf);
        if (slot->pid < 0) {
            fprintf(stderr, "cgalr grid (rank %d on %s): cannot start a process: %s\n", dist_rank, dist_hostname,
                    strerror(err));
            done = index;
            rc = CGALR_EXIT_FAIL;
            continue;
        }
        return 1;
    }
}

int cli_gq_worker(void)
{
    long hdr[2];
    MPI_Bcast(hdr, 2, MPI_LONG, 0, MPI_COMM_WORLD);
    if (hdr[0] <= 0)
        return (int)hdr[1];
    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    self[sl > 0 ? sl : 0] = '\0';
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = worker_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    long jobs = hdr[0];
    worker_slot *slots = calloc((size_t)jobs, sizeof *slots);
    if (!slots) {
        fprintf(stderr, "cgalr grid (rank %d): out of memory\n", dist_rank);
        MPI_Abort(MPI_COMM_WORLD, CGALR_EXIT_FAIL);
    }
    long running = 0;
    for (long k = 0; k < jobs; k++) {
        slots[k].pid = -1;
        running += worker_ask(self, -1, 0, &slots[k]);
    }
    int forwarded = 0;
    while (running > 0) {
        if (worker_stop && !forwarded) {
            /* stop the runs at a checkpoint, as a local grid does; rank 0 hears their exit codes */
            for (long k = 0; k < jobs; k++)
                if (slots[k].pid > 0)
                    kill(slots[k].pid, SIGINT);
            forwarded = 1;
        }
        int status;
        pid_t p = waitpid(-1, &status, 0);
        if (p < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (long k = 0; k < jobs; k++) {
            if (slots[k].pid != p)
                continue;
            int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            slots[k].pid = -1;
            running--;
            running += worker_ask(self, slots[k].index, rc, &slots[k]);
        }
    }
    free(slots);
    return CGALR_EXIT_OK;
}

/* ---- data-parallel training: the collectives cgalr_train_run asks for ------------------- */

static cgalr_status_t mpi_fail(int rc, const char *what)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return cgalr_fail(CGALR_EIO, "MPI %s on rank %d (%s): %s", what, cli_dist_rank(), cli_dist_host(), msg);
}

/* Sums go to rank 0 and come back from it, not through MPI_Allreduce: its algorithms may add in
 * a different order on different ranks, and every rank must hold the same bits, or their
 * parameters drift apart. Counts above INT_MAX go in pieces. */
static cgalr_status_t comm_sum(MPI_Datatype type, size_t width, void *buf, size_t n)
{
    const size_t piece = (size_t)1 << 28;
    for (size_t k = 0; k < n; k += piece) {
        int m = (int)(n - k < piece ? n - k : piece);
        char *b = (char *)buf + k * width;
        int rc = MPI_Reduce(cli_dist_rank() == 0 ? MPI_IN_PLACE : b, cli_dist_rank() == 0 ? b : NULL, m, type,
                            MPI_SUM, 0, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS)
            return mpi_fail(rc, "reduce");
        if ((rc = MPI_Bcast(b, m, type, 0, MPI_COMM_WORLD)) != MPI_SUCCESS)
            return mpi_fail(rc, "broadcast");
    }
    return CGALR_OK;
}

static cgalr_status_t comm_sum_f(void *user, float *buf, size_t n)
{
    (void)user;
    return comm_sum(MPI_FLOAT, sizeof *buf, buf, n);
}

static cgalr_status_t comm_sum_d(void *user, double *buf, size_t n)
{
    (void)user;
    return comm_sum(MPI_DOUBLE, sizeof *buf, buf, n);
}

static cgalr_status_t comm_bcast(void *user, void *buf, size_t bytes)
{
    (void)user;
    const size_t piece = (size_t)1 << 30;
    for (size_t k = 0; k < bytes; k += piece) {
        int rc = MPI_Bcast((char *)buf + k, (int)(bytes - k < piece ? bytes - k : piece), MPI_BYTE, 0, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS)
            return mpi_fail(rc, "broadcast");
    }
    return CGALR_OK;
}

static cgalr_status_t comm_gather(void *user, const void *mine, size_t bytes, void **all, size_t *total)
{
    (void)user;
    *all = NULL;
    *total = 0;
    int size = cli_dist_size();
    if (bytes > (size_t)INT_MAX)
        return cgalr_fail(CGALR_EINVAL, "gather: %zu bytes from one rank, at most %d", bytes, INT_MAX);
    int mine_n = (int)bytes, *counts = malloc(2 * (size_t)size * sizeof *counts);
    if (!counts)
        return cgalr_fail(CGALR_ENOMEM, "gather: out of memory");
    int *displs = counts + size;
    int rc = MPI_Allgather(&mine_n, 1, MPI_INT, counts, 1, MPI_INT, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) {
        free(counts);
        return mpi_fail(rc, "allgather");
    }
    size_t sum = 0;
    for (int r = 0; r < size; r++) {
        displs[r] = (int)sum;
        sum += (size_t)counts[r];
    }
    if (sum > (size_t)INT_MAX) {
        free(counts);
        return cgalr_fail(CGALR_EINVAL, "gather: %zu bytes in all, at most %d", sum, INT_MAX);
    }
    void *out = malloc(sum ? sum : 1);
    if (!out) {
        free(counts);
        return cgalr_fail(CGALR_ENOMEM, "gather: out of memory for %zu bytes", sum);
    }
    rc = MPI_Allgatherv(mine, mine_n, MPI_BYTE, out, counts, displs, MPI_BYTE, MPI_COMM_WORLD);
    free(counts);
    if (rc != MPI_SUCCESS) {
        free(out);
        return mpi_fail(rc, "allgatherv");
    }
    *all = out;
    *total = sum;
    return CGALR_OK;
}

static cgalr_train_comm_t dist_comm;

const cgalr_train_comm_t *cli_dist_comm(void)
{
    if (cli_dist_size() < 2)
        return NULL;
    dist_comm.rank = cli_dist_rank();
    dist_comm.size = cli_dist_size();
    dist_comm.sum_f = comm_sum_f;
    dist_comm.sum_d = comm_sum_d;
    dist_comm.bcast = comm_bcast;
    dist_comm.gather = comm_gather;
    dist_comm.user = NULL;
    return &dist_comm;
}

void cli_dist_abort(int rc)
{
    if (cli_dist_size() > 1)
        MPI_Abort(MPI_COMM_WORLD, rc);
}

#else /* without MPI: one process, no workers */

const cgalr_train_comm_t *cli_dist_comm(void)
{
    return NULL;
}

void cli_dist_abort(int rc)
{
    (void)rc;
}

void cli_gq_start(long jobs, int rc)
{
    (void)jobs;
    (void)rc;
}

int cli_gq_send(int rank, long index, const char *dir, char **args)
{
    (void)rank;
    (void)index;
    (void)dir;
    (void)args;
    return -1;
}

void cli_gq_close(int rank)
{
    (void)rank;
}

int cli_gq_poll(int *rank, long *index, int *rc)
{
    (void)rank;
    (void)index;
    (void)rc;
    return 0;
}

int cli_gq_worker(void)
{
    return CGALR_EXIT_OK;
}

#endif
