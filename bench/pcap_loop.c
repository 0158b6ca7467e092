/* pcap_loop.c - the floor for capture reading: a bare pcap_next_ex loop.
 *
 * usage: pcap_loop FILE
 * Reads every frame, touches its bytes (a sum, so the read is not optimized
 * away) and prints "packets N seconds S" on stdout.
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: pcap_loop FILE\n");
        return 2;
    }
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(argv[1], err);
    if (!p) {
        fprintf(stderr, "pcap_loop: %s\n", err);
        return 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct pcap_pkthdr *h;
    const u_char *data;
    uint64_t n = 0, sum = 0;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
        n++;
        sum += h->caplen + (h->caplen > 23 ? data[23] : 0);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc == PCAP_ERROR)
        fprintf(stderr, "pcap_loop: %s\n", pcap_geterr(p));
    pcap_close(p);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("packets %llu seconds %.3f checksum %llu\n", (unsigned long long)n, s,
           (unsigned long long)sum);
    return rc == PCAP_ERROR ? 1 : 0;
}
