/*
 * A Kafka-protocol broker for local runs and tests: librdkafka's built-in mock cluster.
 * https://github.com/confluentinc/librdkafka/blob/master/src/rdkafka_mock.h
 *
 *   kafka-mock [--brokers N] [--topic name:partitions]...
 *
 * Prints one line `{"bootstraps":"127.0.0.1:p1,127.0.0.1:p2"}` once the brokers listen, then reads
 * commands on stdin, one per line: `down <broker_id>`, `up <broker_id>`, `quit`. EOF on stdin also
 * quits, so the cluster never outlives the Node process that started it (even after kill -9).
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, const char *detail) {
  fprintf(stderr, "kafka-mock: %s: %s\n", what, detail);
  return 2;
}

int main(int argc, char **argv) {
  char errstr[512];
  int brokers = 1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--brokers") && i + 1 < argc) brokers = atoi(argv[++i]);
  }
  if (brokers < 1) return fail("--brokers", "expected a positive integer");

  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  /* The handle only hosts the mock cluster's threads; it never produces. */
  if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) return fail("conf", errstr);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!rk) return fail("rd_kafka_new", errstr);

  rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (!mc) return fail("rd_kafka_mock_cluster_new", "failed");

  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--topic") || i + 1 >= argc) continue;
    char *spec = argv[++i];
    char *colon = strrchr(spec, ':');
    int partitions = colon ? atoi(colon + 1) : 1;
    if (colon) *colon = '\0';
    if (!*spec || partitions < 1) return fail("--topic", "expected name:partitions");
    int rf = brokers < 3 ? brokers : 3;
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, spec, partitions, rf);
    if (err) return fail("rd_kafka_mock_topic_create", rd_kafka_err2str(err));
  }

  printf("{\"bootstraps\":\"%s\",\"brokers\":%d}\n", rd_kafka_mock_cluster_bootstraps(mc), brokers);
  fflush(stdout);

  char line[256];
  while (fgets(line, sizeof line, stdin)) {
    int id;
    if (sscanf(line, "down %d", &id) == 1) rd_kafka_mock_broker_set_down(mc, id);
    else if (sscanf(line, "up %d", &id) == 1) rd_kafka_mock_broker_set_up(mc, id);
    else if (!strncmp(line, "quit", 4)) break;
    else { fprintf(stderr, "kafka-mock: unknown command: %s", line); continue; }
    printf("ok\n");
    fflush(stdout);
  }

  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}
