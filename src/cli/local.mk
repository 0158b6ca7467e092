# src/cli/: the top layer, the command line: main, shared helpers (cliutil),
# one cmd_*.c per command. It may include any layer; nothing includes it.
libstepstone_a_SOURCES += src/cli/cli.h src/cli/cliutil.c src/cli/cliutil.h \
	src/cli/cmd_chains.c src/cli/cmd_conns.c src/cli/cmd_embed.c src/cli/cmd_eval.c \
	src/cli/cmd_eval_sessions.c src/cli/cmd_score.c src/cli/cmd_synth.c \
	src/cli/cmd_train.c src/cli/cmd_train_sessions.c
