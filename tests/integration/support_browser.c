/*
 * Headless Chromium for the browser tests: found on the machine (or named by
 * $CHROMIUM), started on a page with a throw-away profile and none of its
 * background networking, stopped and its profile removed.
 */
#define _XOPEN_SOURCE 700
#include "support.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

const char *it_find_chromium(void)
{
    const char *env = getenv("CHROMIUM");
    if (env && *env && access(env, X_OK) == 0)
        return env;
    static const char *const candidates[] = {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome",
                                             NULL};
    for (int i = 0; candidates[i]; i++)
        if (access(candidates[i], X_OK) == 0)
            return candidates[i];
    return NULL;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

pid_t it_browser_start(const char *exe, const char *profile, const char *url)
{
    char profile_arg[600];
    snprintf(profile_arg, sizeof profile_arg, "--user-data-dir=%s", profile);
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        execl(exe, exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
              "--remote-debugging-port=0", profile_arg, url, (char *)NULL);
        _exit(127);
    }
    return pid;
}

void it_browser_stop(pid_t pid, const char *profile)
{
    if (pid > 0)
        it_stop_child(pid, 5000, NULL);
    if (profile)
        nftw(profile, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
