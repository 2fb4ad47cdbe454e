import Foundation
import Logging
import Kafka
import Testing

@testable import Runtime

@Suite("KafkaProperties and CommonConfiguration", .timeLimit(.minutes(1)))
struct KafkaPropertiesTests {
    @Test func mapsKafkaVariablesToLibrdkafkaProperties() {
        let env = EnvironmentReader([
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SSL_CA_LOCATION": "/etc/ssl/ca.pem",
            "KAFKA_BOOTSTRAP_SERVERS": "broker-1:9092,broker-2:9092",
            "KAFKA_SASL_PASSWORD": "hunter2",
            "KAFKA_EMPTY": "",
            "KAFKA_": "x",
            "KAFKA_PORT": "tcp://10.0.0.1:9092",
            "KAFKA_PORT_9092_TCP_ADDR": "10.0.0.1",
            "KAFKA_SERVICE_HOST": "10.0.0.1",
            "KAFKA_MY_SETTING": "skip me",
            "NOT_KAFKA": "1",
        ])
        #expect(
            env.kafkaProperties(excluding: ["KAFKA_MY_SETTING"]) == [
                "security.protocol": "SASL_SSL",
                "ssl.ca.location": "/etc/ssl/ca.pem",
                "bootstrap.servers": "broker-1:9092,broker-2:9092",
                "sasl.password": "hunter2",
            ])
        #expect(KafkaProperties.propertyName(forVariable: "KAFKA_SSL_KEY_LOCATION") == "ssl.key.location")
        #expect(KafkaProperties.propertyName(forVariable: "KAFKA_PORT") == nil)
        #expect(KafkaProperties.propertyName(forVariable: "REDIS_URL") == nil)
    }

    @Test(arguments: [
        "sasl.password", "ssl.key.password", "ssl.key.pem", "ssl.keystore.password",
        "sasl.oauthbearer.client.secret", "sasl.oauthbearer.config", "ssl_key", "SSL.KEY.PEM",
    ])
    func secretProperties(name: String) {
        #expect(KafkaConfiguration.isSecret(name.replacingOccurrences(of: "_", with: ".")))
    }

    @Test(arguments: [
        "ssl.key.location", "ssl.keystore.location", "ssl.ca.location", "ssl.certificate.pem",
        "bootstrap.servers", "sasl.username", "sasl.mechanism", "security.protocol", "client.id",
    ])
    func publicProperties(name: String) {
        #expect(!KafkaConfiguration.isSecret(name))
    }

    @Test func redactsSecretsForLogs() {
        let properties = ["sasl.password": "hunter2", "sasl.username": "svc", "ssl.key.location": "/k.pem", "ssl.key.pem": "-----BEGIN"]
        #expect(
            KafkaConfiguration.redacted(properties) == [
                "sasl.password": "***", "sasl.username": "svc", "ssl.key.location": "/k.pem", "ssl.key.pem": "***",
            ])
        #expect(
            KafkaProperties.describe(properties)
                == "sasl.password=*** sasl.username=svc ssl.key.location=/k.pem ssl.key.pem=***")
    }

    @Test func commonConfigurationDefaults() throws {
        let configuration = try CommonConfiguration(serviceName: "gateway", defaultHTTPPort: 8081, environment: EnvironmentReader([:]))
        #expect(configuration.serviceName == "gateway")
        #expect(configuration.logLevel == .info)
        #expect(configuration.logFormat == .text)
        #expect(configuration.httpHost == "127.0.0.1")
        #expect(configuration.httpPort == 8081)
        #expect(configuration.kafkaBootstrapServers == "127.0.0.1:9092")
        #expect(configuration.statsInterval == .seconds(15))
        #expect(configuration.instanceId == CommonConfiguration.defaultInstanceId())
        #expect(configuration.instanceId.hasSuffix("-\(ProcessInfo.processInfo.processIdentifier)"))
        #expect(configuration.kafkaProperties["bootstrap.servers"] == "127.0.0.1:9092")
        #expect(configuration.kafkaProperties["client.id"] == "gateway-\(configuration.instanceId)")
    }

    @Test func commonConfigurationFromEnvironment() throws {
        let env = EnvironmentReader([
            "INSTANCE_ID": "gw-1", "LOG_LEVEL": "debug", "LOG_FORMAT": "json", "HTTP_HOST": "0.0.0.0", "HTTP_PORT": "0",
            "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092", "STATS_INTERVAL_SECONDS": "2.5", "KAFKA_CLIENT_ID": "custom",
            "KAFKA_SASL_PASSWORD": "pw",
        ])
        let configuration = try CommonConfiguration(serviceName: "presence", defaultHTTPPort: 8083, environment: env)
        #expect(configuration.instanceId == "gw-1")
        #expect(configuration.logLevel == .debug)
        #expect(configuration.logFormat == .json)
        #expect(configuration.httpHost == "0.0.0.0")
        #expect(configuration.httpPort == 0)
        #expect(configuration.kafkaBootstrapServers == "kafka:9092")
        #expect(configuration.statsInterval == .milliseconds(2500))
        #expect(configuration.kafkaProperties["bootstrap.servers"] == "kafka:9092")
        #expect(configuration.kafkaProperties["client.id"] == "custom")
        #expect(configuration.redactedKafkaProperties["sasl.password"] == "***")
        #expect(configuration.loggerMetadata["service.instance.id"] == .string("gw-1"))
    }

    @Test func commonConfigurationErrorsNameTheVariable() {
        expectConfigurationError(#"LOG_LEVEL: "verbose" is not a valid value (expected one of trace, debug, info, notice, warning, error, critical)"#) {
            _ = try CommonConfiguration(serviceName: "s", defaultHTTPPort: 1, environment: EnvironmentReader(["LOG_LEVEL": "verbose"]))
        }
        expectConfigurationError(#"HTTP_PORT: "http" is not a port number (0–65535, 0 for any free port)"#) {
            _ = try CommonConfiguration(serviceName: "s", defaultHTTPPort: 1, environment: EnvironmentReader(["HTTP_PORT": "http"]))
        }
        expectConfigurationError(#"STATS_INTERVAL_SECONDS: "0" is out of range (expected 0.1–86400 s)"#) {
            _ = try CommonConfiguration(serviceName: "s", defaultHTTPPort: 1, environment: EnvironmentReader(["STATS_INTERVAL_SECONDS": "0"]))
        }
    }
}
