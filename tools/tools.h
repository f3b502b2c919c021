/* tools/tools.h — subcommands of the netsock tool. Each takes argv with
 * argv[0] the subcommand name and returns the process exit status. */
#ifndef NS_TOOLS_H
#define NS_TOOLS_H

int tool_demo(int argc, char **argv);
int tool_ping(int argc, char **argv);

#endif
