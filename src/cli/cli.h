/* The subcommands of the cgalr tool. Each returns the process exit code: 0 ok, 1 runtime
 * failure, 2 bad usage or bad input. Only this layer prints. */
#ifndef CGALR_CLI_H
#define CGALR_CLI_H

int cgalr_cmd_train(int argc, char **argv);
int cgalr_cmd_grid(int argc, char **argv);
int cgalr_cmd_report(int argc, char **argv);
int cgalr_cmd_data(int argc, char **argv);
int cgalr_cmd_topo(int argc, char **argv);
int cgalr_cmd_bench(int argc, char **argv);

#define CGALR_EXIT_OK 0
#define CGALR_EXIT_FAIL 1
#define CGALR_EXIT_USAGE 2

#endif
