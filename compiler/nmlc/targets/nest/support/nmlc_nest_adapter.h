/*
 *  nmlc_nest_adapter.h -- written by nmlc: the NEST node that runs a generated neuron core.
 *
 *  NodeAdapter is compiled once per toolchain (nmlc_nest_adapter.cpp) and linked into every
 *  module nmlc builds. It derives from nest::ArchivingNode, so NEST's own plastic synapses work
 *  with generated neurons, and owns what needs NEST: the input ring buffers (one flat array, ring
 *  r at r * ring_len), the data logger and the status dictionaries. Co-generated synapses include
 *  this header to reach the core of their postsynaptic neuron.
 */
#ifndef NMLC_NEST_ADAPTER_H
#define NMLC_NEST_ADAPTER_H

#include <memory>
#include <vector>

#include "archiving_node.h"
#include "event.h"
#include "universal_data_logger.h"

#include "nmlc_abi.h"

#pragma GCC visibility push( hidden )

namespace nmlc_abi
{

class NodeAdapter : public nest::ArchivingNode, public Host
{
public:
  //! the prototype of the model being registered (see register_neuron)
  NodeAdapter();
  NodeAdapter( const NodeAdapter& );
  ~NodeAdapter() override;

  using nest::Node::handle;
  using nest::Node::handles_test_event;

  size_t send_test_event( nest::Node& target, size_t receptor_type, nest::synindex, bool ) override;
  void handle( nest::SpikeEvent& ) override;
  void handle( nest::CurrentEvent& ) override;
  void handle( nest::DataLoggingRequest& ) override;
  size_t handles_test_event( nest::SpikeEvent&, size_t receptor_type ) override;
  size_t handles_test_event( nest::CurrentEvent&, size_t receptor_type ) override;
  size_t handles_test_event( nest::DataLoggingRequest&, size_t receptor_type ) override;

  void get_status( Dictionary& ) const override;
  void set_status( const Dictionary& ) override;

  NeuronCore&
  core()
  {
    return *core_;
  }
  const NeuronDescriptor&
  descriptor() const
  {
    return *desc_;
  }

  // Host
  void emit_spike( long step, long lag ) override;
  void record( long step ) override;
  [[noreturn]] void numerical_instability() override;

  //! the data logger's access function for recordable K
  template < std::size_t K >
  double
  recordable_() const
  {
    return core_->recordable( K );
  }

private:
  void init_buffers_() override;
  void pre_run_hook() override;
  void update( const nest::Time&, const long, const long ) override;

  const NeuronDescriptor* desc_;
  std::unique_ptr< NeuronCore > core_;
  std::vector< double > ring_; //!< all input ring buffers of this node, ring r at r * ring_len_
  long ring_len_ = 0;
  //! the rings of receptor 0 for weights >= 0 and < 0 when they need no counts (else null)
  double* direct_[ 2 ] = { nullptr, nullptr };
  double direct_factor_[ 2 ] = { 0.0, 0.0 };
  bool recording_ = false; //!< a multimeter was connected
  nest::UniversalDataLogger< NodeAdapter > logger_;
};

} // namespace nmlc_abi

#pragma GCC visibility pop

#endif
