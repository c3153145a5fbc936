/* The smallest useful program: what the seeds put in a 94 kB scratch image. */
#include <stdio.h>

int main(void) {
    puts("Hello from staticize!");
    return 0;
}
