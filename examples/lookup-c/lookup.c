/*
 * Name lookups inside scratch: getaddrinfo and getpwnam are what breaks when static glibc
 * meets an empty image (they load NSS modules at run time). With musl they just work, and
 * report plainly when the image has no /etc/passwd or /etc/hosts.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static void lookup_host(const char *name) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(name, "80", &hints, &res);
    if (rc != 0 || res == NULL) {
        printf("getaddrinfo %s: %s\n", name, gai_strerror(rc));
        return;
    }
    char buf[INET_ADDRSTRLEN];
    struct sockaddr_in *sin = (struct sockaddr_in *)res->ai_addr;
    inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf);
    printf("getaddrinfo %s: %s\n", name, buf);
    freeaddrinfo(res);
}

int main(int argc, char **argv) {
    lookup_host(argc > 1 ? argv[1] : "127.0.0.1");
    const char *user = argc > 2 ? argv[2] : "root";
    struct passwd *pw = getpwnam(user);
    if (pw)
        printf("getpwnam %s: uid %u\n", user, (unsigned)pw->pw_uid);
    else
        printf("getpwnam %s: not found\n", user);
    return 0;
}
