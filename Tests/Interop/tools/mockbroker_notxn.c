/*
 * mockbroker_notxn.c - a Kafka broker without transactions, for the agent's at-least-once fallback test
 * (Tests/Interop/test_agent_fallback.py). It is librdkafka's in-process mock cluster (one broker) with the
 * transaction APIs switched off: they are left out of the ApiVersions answer and refused if sent anyway, which is
 * what a client sees from a broker older than Kafka 0.11 or from a Kafka-compatible service without
 * transactions.
 *
 * Build (librdkafka-dev, installed by scripts/setup; conftest.py does this into a cache directory):
 *   cc -O2 -Wall -pthread -o mockbroker_notxn mockbroker_notxn.c $(pkg-config --cflags --libs rdkafka)
 * Run:
 *   mockbroker_notxn [--no-idempotence] [--topic NAME:PARTITIONS]...
 * It prints its bootstrap address (host:port) on one line of stdout, then serves until SIGTERM or SIGINT.
 * librdkafka 2.0.2 picks the listening port itself (there is no way to ask for one), hence the printed address.
 *
 * Always off: AddPartitionsToTxn (24), AddOffsetsToTxn (25), EndTxn (26), WriteTxnMarkers (27),
 * TxnOffsetCommit (28). With --no-idempotence also InitProducerId (22), so neither a transactional nor an
 * idempotent producer can start (a pre-0.11 broker). FindCoordinator stays: consumer groups need it.
 * --topic creates a topic up front; others are created on first use with the mock's default of 4 partitions.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static const int16_t txn_apis[] = {24, 25, 26, 27, 28};

static int set(rd_kafka_conf_t *conf, const char *name, const char *value) {
        char err[256];
        if (rd_kafka_conf_set(conf, name, value, err, sizeof(err)) == RD_KAFKA_CONF_OK)
                return 0;
        fprintf(stderr, "mockbroker_notxn: %s=%s: %s\n", name, value, err);
        return -1;
}

int main(int argc, char **argv) {
        int no_idempotence = 0;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--no-idempotence") == 0) {
                        no_idempotence = 1;
                } else if (strcmp(argv[i], "--topic") == 0 && i + 1 < argc && strchr(argv[i + 1], ':')) {
                        i++; /* created below, once the cluster exists */
                } else {
                        fprintf(stderr, "usage: %s [--no-idempotence] [--topic NAME:PARTITIONS]...\n", argv[0]);
                        return 2;
                }
        }

        /* The stop signals are taken synchronously by sigwait below; the mock's threads inherit the mask. */
        sigset_t stop;
        sigemptyset(&stop);
        sigaddset(&stop, SIGTERM);
        sigaddset(&stop, SIGINT);
        pthread_sigmask(SIG_BLOCK, &stop, NULL);

        /* The mock cluster lives inside a client handle; this one never connects anywhere itself. */
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        if (set(conf, "log_level", "4"))
                return 1;
        char err[256];
        rd_kafka_t *owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
        if (owner == NULL) {
                fprintf(stderr, "mockbroker_notxn: rd_kafka_new: %s\n", err);
                return 1;
        }
        rd_kafka_mock_cluster_t *cluster = rd_kafka_mock_cluster_new(owner, 1);
        if (cluster == NULL) {
                fprintf(stderr, "mockbroker_notxn: cannot start the mock cluster\n");
                rd_kafka_destroy(owner);
                return 1;
        }

        /* MinVersion = MaxVersion = -1 takes an API out of ApiVersions and refuses requests for it. */
        for (size_t i = 0; i < sizeof(txn_apis) / sizeof(txn_apis[0]); i++)
                rd_kafka_mock_set_apiversion(cluster, txn_apis[i], -1, -1);
        if (no_idempotence)
                rd_kafka_mock_set_apiversion(cluster, 22, -1, -1);
        for (int i = 1; i + 1 < argc; i++) {
                if (strcmp(argv[i], "--topic") != 0)
                        continue;
                char name[256];
                const char *colon = strrchr(argv[++i], ':');
                int count = atoi(colon + 1);
                snprintf(name, sizeof(name), "%.*s", (int)(colon - argv[i]), argv[i]);
                if (count < 1 || rd_kafka_mock_topic_create(cluster, name, count, 1) != RD_KAFKA_RESP_ERR_NO_ERROR) {
                        fprintf(stderr, "mockbroker_notxn: cannot create topic %s\n", argv[i]);
                        return 1;
                }
        }

        printf("%s\n", rd_kafka_mock_cluster_bootstraps(cluster));
        fflush(stdout);
        fprintf(stderr, "mockbroker_notxn: serving without transactions%s\n",
                no_idempotence ? " and without InitProducerId" : "");

        int sig = 0;
        sigwait(&stop, &sig);
        fprintf(stderr, "mockbroker_notxn: signal %d, stopping\n", sig);
        rd_kafka_mock_cluster_destroy(cluster);
        rd_kafka_destroy(owner);
        return 0;
}
