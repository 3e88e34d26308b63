/*
 *  nmlc_nest_adapter.h -- written by nmlc: the NEST node that runs a generated neuron core.
 *
 *  NodeAdapter is compiled once per toolchain (nmlc_nest_adapter.cpp) and linked into every
 *  module nmlc builds. It derives from nest::ArchivingNode, so NEST's own plastic synapses work
 *  with generated neurons, and owns what needs NEST: the input ring buffers (one flat array, ring
 *  r at r * ring_len), the data logger and the status dictionaries. Co-generated synapses include
 *  this header to reach the core of their postsynaptic neuron.
 *
 *  A node NEST creates is one allocation: the adapter, then its core (see create_node), so that a
 *  node's update reads adjacent memory, as a hand-written NEST model's does.
 */
#ifndef NMLC_NEST_ADAPTER_H
#define NMLC_NEST_ADAPTER_H

#include <memory>

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

  //! a node like `proto` (what NEST's GenericModel::create_ does), with its core in the same allocation
  static NodeAdapter* create_node( const NodeAdapter& proto );
  //! also frees what create_node allocated: one block, the node and then its core
  static void
  operator delete( void* p ) noexcept
  {
    ::operator delete( p );
  }

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
  //! a copy of `n` whose core is constructed at `core_at` (null: in a block of its own)
  NodeAdapter( const NodeAdapter& n, void* core_at );

  void init_buffers_() override;
  void pre_run_hook() override;
  void update( const nest::Time&, const long, const long ) override;
  void update_core_( NeuronCore& core, const nest::Time&, long from, long to );
  void link_update_order_();

  const NeuronDescriptor* desc_;
  nest::UniversalDataLogger< NodeAdapter > logger_;
  // The hot fields come last, so that the core follows them in the node's block: what update()
  // reads (40 bytes), then what handle( SpikeEvent& ) reads (16 bytes, never straddling two lines).
  NeuronCore* core_;
  std::unique_ptr< double[] > ring_; //!< all input ring buffers of this node, ring r at r * ring_len_
  long ring_len_ = 0;
  nest::Node* next_ = nullptr; //!< the node NEST updates after this one on this thread (or null)
  bool recording_ = false;   //!< a multimeter was connected
  bool currents_ = false;    //!< a current source was connected (else the current rings stay zero)
  bool core_on_heap_ = true; //!< core_ is a block of its own (prototypes), not part of this node's
  //! where handle( SpikeEvent& ) adds weights >= 0 and < 0 (ring entry of slot 0) in a model with one
  //! receptor whose rings need no event counts; null: take the descriptor's route table
  alignas( 16 ) double* direct_[ 2 ] = { nullptr, nullptr };
};

} // namespace nmlc_abi

#pragma GCC visibility pop

#endif
