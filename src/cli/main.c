/* main.c - the stepstone command: dispatches to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config.h"

int cmd_conns(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_chains(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_score(int argc, char **argv);
/* Subcommands: each one's entry point is defined in src/cli/cmd_<name>.c or
 * beside the module it drives. */
static const cli_command commands[] = {
    {"chains", "find relay chains in captures with the learned correlator", cmd_chains},
    {"conns", "list the connections in captures (Zeek conn.log style)", cmd_conns},
    {"embed", "write every connection's window embeddings (msgpack or JSON lines)", cmd_embed},
    {"score", "score host sessions for anomalies (session model)", cmd_score},
    {"eval", "score correlation methods against labelled relay hops", cmd_eval},
    {"train", "train a model: 'correlate' (relay-hop encoder), 'sessions', 'calibrate'", cmd_train},
    {"synth", "write a synthetic labelled relay capture (pcap + labels.csv)", cmd_synth},
    {NULL, NULL, NULL}
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: stepstone COMMAND [OPTIONS] [FILE...]\n"
            "\n"
            "Finds relay chains (stepping stones) in packet captures.\n"
            "\n"
            "Commands:\n");
    for (const cli_command *c = commands; c->name; c++)
        fprintf(f, "  %-10s %s\n", c->name, c->summary);
    fprintf(f,
            "\n"
            "Run 'stepstone COMMAND --help' for a command's options.\n"
            "Options: --help, --version\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("stepstone %s\n", PACKAGE_VERSION);
        return CLI_EXIT_OK;
    }
    for (const cli_command *c = commands; c->name; c++)
        if (!strcmp(argv[1], c->name))
            return c->run(argc - 1, argv + 1);
    fprintf(stderr, "stepstone: unknown command '%s'; run 'stepstone --help' for the list\n",
            argv[1]);
    return CLI_EXIT_USAGE;
}
