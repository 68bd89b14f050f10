#include "server/metrics/families.h"

#include <sstream>

#include <prometheus/text_serializer.h>

namespace cairn::server::metrics {

prometheus::ClientMetric& Families::add(const std::string& name, const std::string& help,
                                        prometheus::MetricType type, const Labels& labels) {
  if (families_.empty() || families_.back().name != name) declare(name, help, type);
  prometheus::ClientMetric& m = families_.back().metric.emplace_back();
  for (const auto& [k, v] : labels)
    m.label.push_back({k, v});
  return m;
}

void Families::declare(const std::string& name, const std::string& help, prometheus::MetricType type) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  families_.push_back(std::move(f));
}

void Families::gauge(const std::string& name, const std::string& help, double value, const Labels& labels) {
  add(name, help, prometheus::MetricType::Gauge, labels).gauge.value = value;
}

void Families::counter(const std::string& name, const std::string& help, double value, const Labels& labels) {
  add(name, help, prometheus::MetricType::Counter, labels).counter.value = value;
}

void Families::histogram(const std::string& name, const std::string& help, const Histogram& h,
                         const Labels& labels) {
  add(name, help, prometheus::MetricType::Histogram, labels).histogram = h.snapshot();
}

std::string Families::text() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families_);
  return out.str();
}

}  // namespace cairn::server::metrics
