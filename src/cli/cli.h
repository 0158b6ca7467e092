/* cli.h - the subcommands of the stepstone binary.
 *
 * Each subcommand lives in its own src/cli/cmd_<name>.c and is called with argv
 * starting at the subcommand's name (argv[0] == "conns", ...). It returns the
 * process exit status: 0 ok, 1 failure, 2 usage error.
 */
#ifndef STEPSTONE_CLI_H
#define STEPSTONE_CLI_H

/* Exit statuses shared by every subcommand. */
enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAILURE = 1,
    CLI_EXIT_USAGE = 2
};

/* One entry of the subcommand table. */
typedef struct cli_command {
    const char *name;
    const char *summary;               /* one line for `stepstone --help` */
    int (*run)(int argc, char **argv); /* returns a cli_exit status */
} cli_command;

#endif
