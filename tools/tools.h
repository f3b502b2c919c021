/* tools/tools.h — subcommands of the netsock tool. Each takes argv with
 * argv[0] the subcommand name and returns the process exit status. */
#ifndef NS_TOOLS_H
#define NS_TOOLS_H

int tool_demo(int argc, char **argv);
int tool_host(int argc, char **argv); /* host.c */
int tool_stat(int argc, char **argv); /* stat.c */
int tool_cat(int argc, char **argv);  /* cat.c */
int tool_ping(int argc, char **argv); /* ping.c */
int tool_perf(int argc, char **argv); /* perf.c (perf_nojson.c without cJSON) */
int tool_run(int argc, char **argv);  /* run.c */
int tool_nat(int argc, char **argv);  /* nat.c */

#endif
