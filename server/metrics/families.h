// Builds one scrape: metric families from values read at scrape time (the counters the request path
// keeps as plain atomics) and histograms, serialized by prometheus-cpp's text format (version 0.0.4).
// Series of one name with different labels go into one family when added one after another.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <prometheus/metric_family.h>

#include "server/metrics/histogram.h"

namespace cairn::server::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Families {
 public:
  void gauge(const std::string& name, const std::string& help, double value, const Labels& labels = {});
  void counter(const std::string& name, const std::string& help, double value, const Labels& labels = {});
  void histogram(const std::string& name, const std::string& help, const Histogram& h,
                 const Labels& labels = {});
  // A family with no series yet (a labelled counter before the first label value appears).
  void declare(const std::string& name, const std::string& help, prometheus::MetricType type);

  const std::vector<prometheus::MetricFamily>& all() const { return families_; }
  std::string text() const;

 private:
  prometheus::ClientMetric& add(const std::string& name, const std::string& help, prometheus::MetricType type,
                                const Labels& labels);
  std::vector<prometheus::MetricFamily> families_;
};

}  // namespace cairn::server::metrics
