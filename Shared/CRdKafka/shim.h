// rdkafka_mock.h uses types from rdkafka.h without including it, so the order matters.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
