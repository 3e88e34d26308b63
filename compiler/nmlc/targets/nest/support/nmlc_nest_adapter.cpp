/*
 *  nmlc_nest_adapter.cpp -- written by nmlc: NodeAdapter, model registration and the module entry.
 *
 *  Compiled once per toolchain into nmlc's cache and linked into every module nmlc builds; the
 *  generated cores of a module only add their arithmetic.
 */
#include "nmlc_nest_pch.h"

#include <array>
#include <new>
#include <utility>

#include "nmlc_nest_adapter.h"

#pragma GCC visibility push( hidden )

namespace nmlc_abi
{
namespace
{

// GenericModel default-constructs its prototype node, so the descriptor of the model being
// registered reaches NodeAdapter() through this pointer: set and cleared around one registration,
// which NEST runs single-threaded while a module is installed.
const NeuronDescriptor* registering = nullptr;

// The data logger reads recordables through member functions of the node; one instantiation of
// NodeAdapter::recordable_<K> per index serves every model.
constexpr std::size_t MAX_RECORDABLES = 256;
using Getter = double ( NodeAdapter::* )() const;

template < std::size_t... K >
constexpr std::array< Getter, sizeof...( K ) >
make_getters( std::index_sequence< K... > )
{
  return { &NodeAdapter::recordable_< K >... };
}

constexpr std::array< Getter, MAX_RECORDABLES > GETTERS = make_getters( std::make_index_sequence< MAX_RECORDABLES >() );

nest::RecordablesMap< NodeAdapter >
recordables_map( const NeuronDescriptor& desc )
{
  nest::RecordablesMap< NodeAdapter > map;
  for ( std::size_t i = 0; i < desc.n_recordables; ++i )
  {
    map.insert( std::make_pair( std::string( desc.recordables[ i ] ), GETTERS[ i ] ) );
  }
  return map;
}

class DictOut final : public StatusOut
{
public:
  explicit DictOut( Dictionary& d )
    : d_( d )
  {
  }
  void
  put( const char* key, double value ) override
  {
    d_[ key ] = value;
  }
  void
  put( const char* key, long value ) override
  {
    d_[ key ] = value;
  }
  void
  put( const char* key, bool value ) override
  {
    d_[ key ] = value;
  }
  void
  put( const char* key, const std::string& value ) override
  {
    d_[ key ] = value;
  }
  void
  put( const char* key, const std::vector< double >& value ) override
  {
    d_[ key ] = value;
  }
  void
  put( const char* key, const std::vector< long >& value ) override
  {
    d_[ key ] = value;
  }
  void
  put( const char* key, const std::vector< bool >& value ) override
  {
    d_[ key ] = value;
  }
  void
  put( const char* key, const std::vector< std::string >& value ) override
  {
    d_[ key ] = value;
  }

private:
  Dictionary& d_;
};

class DictIn final : public StatusIn
{
public:
  DictIn( const Dictionary& d, nest::ArchivingNode& node )
    : d_( d )
    , node_( node )
  {
  }
  // numbers may also be given as NEST Parameter objects (random values per node)
  bool
  get( const char* key, double& value ) override
  {
    return nest::update_value_param( d_, key, value, &node_ );
  }
  bool
  get( const char* key, long& value ) override
  {
    return nest::update_value_param( d_, key, value, &node_ );
  }
  bool
  get( const char* key, bool& value ) override
  {
    return nest::update_value_param( d_, key, value, &node_ );
  }
  bool
  get( const char* key, std::string& value ) override
  {
    return d_.update_value( key, value );
  }
  bool
  get( const char* key, std::vector< double >& value ) override
  {
    return d_.update_value( key, value );
  }
  bool
  get( const char* key, std::vector< long >& value ) override
  {
    return d_.update_value( key, value );
  }
  bool
  get( const char* key, std::vector< bool >& value ) override
  {
    return d_.update_value( key, value );
  }
  bool
  get( const char* key, std::vector< std::string >& value ) override
  {
    return d_.update_value( key, value );
  }
  [[noreturn]] void
  bad_property( const std::string& message ) override
  {
    throw nest::BadProperty( message );
  }
  void
  set_base_status() override
  {
    node_.nest::ArchivingNode::set_status( d_ );
  }

private:
  const Dictionary& d_;
  nest::ArchivingNode& node_;
};

// A core in a block of its own (a model's prototype; a core aligned beyond what operator new gives).
void*
allocate_core( const NeuronDescriptor& desc )
{
  return ::operator new( desc.core_size, std::align_val_t( desc.core_align ) );
}

void
free_core( void* core, const NeuronDescriptor& desc )
{
  ::operator delete( core, std::align_val_t( desc.core_align ) );
}

} // namespace

NodeAdapter::NodeAdapter()
  : ArchivingNode()
  , desc_( registering )
  , logger_( *this )
  , core_( nullptr )
{
  if ( desc_ == nullptr )
  {
    throw nest::KernelException( "nmlc: a generated neuron can only be created by its registered model" );
  }
  void* const at = allocate_core( *desc_ );
  try
  {
    core_ = desc_->create( at );
  }
  catch ( ... )
  {
    free_core( at, *desc_ );
    throw;
  }
}

NodeAdapter::NodeAdapter( const NodeAdapter& n )
  : NodeAdapter( n, nullptr )
{
}

NodeAdapter::NodeAdapter( const NodeAdapter& n, void* const core_at )
  : ArchivingNode( n )
  , desc_( n.desc_ )
  , logger_( *this )
  , core_( nullptr )
  , core_on_heap_( core_at == nullptr )
{
  void* const at = core_on_heap_ ? allocate_core( *desc_ ) : core_at;
  try
  {
    core_ = n.core_->clone_into( at );
  }
  catch ( ... )
  {
    if ( core_on_heap_ )
    {
      free_core( at, *desc_ );
    }
    throw;
  }
}

NodeAdapter::~NodeAdapter()
{
  // a core class has NeuronCore as its only base, so core_ is also the address it was constructed at
  core_->~NeuronCore();
  if ( core_on_heap_ )
  {
    free_core( core_, *desc_ );
  }
}

static_assert( alignof( NodeAdapter ) == __STDCPP_DEFAULT_NEW_ALIGNMENT__,
  "operator new places a node 16-byte aligned, and a core whose alignment operator new gives starts "
  "right after the adapter (update relies on it)" );

NodeAdapter*
NodeAdapter::create_node( const NodeAdapter& proto )
{
  const NeuronDescriptor& desc = *proto.desc_;
  if ( desc.core_align > __STDCPP_DEFAULT_NEW_ALIGNMENT__ )
  {
    return new NodeAdapter( proto );
  }
  // sizeof( NodeAdapter ) is a multiple of its alignment, which is at least the core's
  void* const block = ::operator new( sizeof( NodeAdapter ) + desc.core_size );
  try
  {
    return ::new ( block ) NodeAdapter( proto, static_cast< char* >( block ) + sizeof( NodeAdapter ) );
  }
  catch ( ... )
  {
    ::operator delete( block );
    throw;
  }
}

size_t
NodeAdapter::send_test_event( nest::Node& target, size_t receptor_type, nest::synindex syn_id, bool dummy_target )
{
  if ( not desc_->emits_spikes )
  {
    return nest::Node::send_test_event( target, receptor_type, syn_id, dummy_target );
  }
  nest::SpikeEvent e;
  e.set_sender( *this );
  return target.handles_test_event( e, receptor_type );
}

size_t
NodeAdapter::handles_test_event( nest::SpikeEvent& e, size_t receptor_type )
{
  if ( desc_->n_spike_receptors == 0 )
  {
    return nest::Node::handles_test_event( e, receptor_type );
  }
  const bool known = receptor_type < static_cast< size_t >( desc_->n_spike_receptors )
    and ( desc_->spike_routes[ 2 * receptor_type ].ring >= 0 or desc_->spike_routes[ 2 * receptor_type + 1 ].ring >= 0 );
  if ( not known )
  {
    throw nest::UnknownReceptorType( receptor_type, get_name() );
  }
  return receptor_type;
}

size_t
NodeAdapter::handles_test_event( nest::CurrentEvent& e, size_t receptor_type )
{
  if ( desc_->n_current_receptors == 0 )
  {
    return nest::Node::handles_test_event( e, receptor_type );
  }
  if ( receptor_type >= static_cast< size_t >( desc_->n_current_receptors ) )
  {
    throw nest::UnknownReceptorType( receptor_type, get_name() );
  }
  currents_ = true;
  return receptor_type;
}

size_t
NodeAdapter::handles_test_event( nest::DataLoggingRequest& dlr, size_t receptor_type )
{
  if ( receptor_type != 0 )
  {
    throw nest::UnknownReceptorType( receptor_type, get_name() );
  }
  const size_t port = logger_.connect_logging_device( dlr, recordables_map( *desc_ ) );
  recording_ = true;
  return port;
}

void
NodeAdapter::handle( nest::SpikeEvent& e )
{
  // the multiplicity is far below 2^63: a signed conversion gives the same double, with fewer instructions
  const double multiplicity = static_cast< double >( static_cast< long >( e.get_multiplicity() ) );
  const double w = e.get_weight() * multiplicity;
  // ports of one receptor may take only one sign: excitatory w >= 0, inhibitory w < 0
  const size_t sign = w < 0.0 ? 1 : 0;
  const long slot = nest::kernel().event_delivery_manager.get_modulo(
    e.get_rel_delivery_steps( nest::kernel().simulation_manager.get_slice_origin() ) );
  // the rings take the weights as they come (the core negates the sum of an inhibitory port)
  double* const direct = direct_[ sign ];
  if ( direct != nullptr )
  {
    direct[ slot ] += w;
    return;
  }
  const SpikeRoute& route = desc_->spike_routes[ 2 * e.get_rport() + sign ];
  if ( route.ring < 0 )
  {
    return;
  }
  double* const at = ring_.get() + slot;
  at[ route.ring * ring_len_ ] += w;
  if ( route.count >= 0 )
  {
    at[ route.count * ring_len_ ] += multiplicity;
  }
}

void
NodeAdapter::handle( nest::CurrentEvent& e )
{
  const long slot = nest::kernel().event_delivery_manager.get_modulo(
    e.get_rel_delivery_steps( nest::kernel().simulation_manager.get_slice_origin() ) );
  const int ring = desc_->current_ring[ e.get_rport() ];
  if ( ring >= 0 )
  {
    ring_[ ring * ring_len_ + slot ] += e.get_weight() * e.get_current();
  }
}

void
NodeAdapter::handle( nest::DataLoggingRequest& e )
{
  logger_.handle( e );
}

void
NodeAdapter::get_status( Dictionary& d ) const
{
  DictOut out( d );
  core_->get_status( out );
  ArchivingNode::get_status( d );
  d[ "recordables" ] = recordables_map( *desc_ ).get_list();
  core_->get_status_late( out );
  if ( desc_->n_receptor_names > 0 )
  {
    Dictionary receptors;
    for ( std::size_t i = 0; i < desc_->n_receptor_names; ++i )
    {
      receptors[ desc_->receptor_names[ i ] ] = desc_->receptor_numbers[ i ];
    }
    d[ "receptor_types" ] = receptors;
  }
}

void
NodeAdapter::set_status( const Dictionary& d )
{
  DictIn in( d, *this );
  core_->set_status( in );
}

void
NodeAdapter::init_buffers_()
{
  // NEST sizes every ring buffer to min_delay + max_delay slots; a probe keeps ours in step with it
  nest::RingBuffer probe;
  probe.clear();
  ring_len_ = static_cast< long >( probe.size() );
  ring_.reset( new double[ static_cast< size_t >( desc_->n_rings ) * probe.size() ]() );
  // a model with one spike receptor (all spikes arrive at rport 0) whose ring needs no event counts,
  // the common case, skips the route table in handle()
  for ( size_t sign = 0; sign < 2; ++sign )
  {
    const SpikeRoute& route = desc_->spike_routes[ sign ];
    const bool direct = desc_->n_spike_receptors == 1 and route.ring >= 0 and route.count < 0;
    direct_[ sign ] = direct ? ring_.get() + route.ring * ring_len_ : nullptr;
  }
  logger_.reset();
  ArchivingNode::clear_history();
  std::uint64_t seed = 0;
  if ( desc_->uses_random )
  {
    Dictionary kernel_rng;
    nest::kernel().random_manager.get_status( kernel_rng );
    seed = static_cast< std::uint64_t >( kernel_rng.get< long >( "rng_seed" ) );
  }
  core_->init_buffers( seed, get_node_id() );
}

void
NodeAdapter::pre_run_hook()
{
  logger_.init();
  core_->calibrate();
  link_update_order_();
}

void
NodeAdapter::link_update_order_()
{
  // NEST updates a thread's nodes in the order of their ids; its loop reads each node's base class
  // (the virtual table pointer, the frozen flag) first. The hardware prefetcher does not follow that
  // loop from one node's block to the next, so update() prefetches the next node's base itself.
  const nest::SparseNodeArray& local = nest::kernel().node_manager.get_local_nodes( get_thread() );
  size_t lo = 0;
  size_t hi = local.size();
  while ( lo < hi ) // the first local node whose id is above this node's
  {
    const size_t mid = lo + ( hi - lo ) / 2;
    if ( local.get_node_by_index( mid )->get_node_id() <= get_node_id() )
    {
      lo = mid + 1;
    }
    else
    {
      hi = mid;
    }
  }
  next_ = lo < local.size() ? local.get_node_by_index( lo ) : nullptr;
}

void
NodeAdapter::update( const nest::Time& origin, const long from, const long to )
{
  if ( next_ != nullptr )
  {
    const char* const base = reinterpret_cast< const char* >( next_ );
    for ( std::size_t at = 0; at < sizeof( nest::Node ); at += 64 )
    {
      __builtin_prefetch( base + at );
    }
    __builtin_prefetch( base + sizeof( nest::Node ) - 1 );
  }
  // The core of a node NEST created lies right after the adapter. Computing its address instead of
  // loading core_ lets the core's fields be fetched while the adapter's are still on their way
  // from memory; a branch (not a conditional move) keeps the two independent.
  if ( __builtin_expect( core_on_heap_, false ) )
  {
    update_core_( *core_, origin, from, to );
  }
  else
  {
    update_core_( *std::launder( reinterpret_cast< NeuronCore* >( this + 1 ) ), origin, from, to );
  }
}

inline void
NodeAdapter::update_core_( NeuronCore& core, const nest::Time& origin, const long from, const long to )
{
  // The ring position of each step is the same for every ring: look it up once per step, then let
  // the core run the whole slice (chunks of at most 64 steps keep the table on the stack).
  constexpr long CHUNK = 64;
  long slot[ CHUNK ];
  const long origin_steps = origin.get_steps();
  for ( long start = from; start < to; start += CHUNK )
  {
    const long stop = std::min( to, start + CHUNK );
    for ( long lag = start; lag < stop; ++lag )
    {
      slot[ lag - start ] = nest::kernel().event_delivery_manager.get_modulo( lag );
    }
    const Slice slice { origin_steps, start, stop, ring_.get(), ring_len_, slot, recording_, currents_ };
    core.update( *this, slice );
  }
}

void
NodeAdapter::emit_spike( const long step, const long lag )
{
  set_spiketime( nest::Time::step( step ) );
  nest::SpikeEvent se;
  nest::kernel().event_delivery_manager.send( *this, se, lag );
}

void
NodeAdapter::record( const long step )
{
  logger_.record_data( step );
}

void
NodeAdapter::numerical_instability()
{
  throw nest::NumericalInstability( get_name() );
}

} // namespace nmlc_abi

// NEST creates every node of a model as `new ElementT( proto_ )`; a generated neuron's node takes its
// core into the same allocation instead.
template <>
nest::Node*
nest::GenericModel< nmlc_abi::NodeAdapter >::create_()
{
  return nmlc_abi::NodeAdapter::create_node( proto_ );
}

namespace nmlc_abi
{

void
register_neuron( const NeuronDescriptor& model, const std::string& name )
{
  if ( model.n_recordables > MAX_RECORDABLES )
  {
    throw nest::KernelException( "nmlc: model " + name + " has more than 256 recordables" );
  }
  registering = &model;
  try
  {
    nest::register_node_model< NodeAdapter >( name );
  }
  catch ( ... )
  {
    registering = nullptr;
    throw;
  }
  registering = nullptr;
}

long
steps_of_ms( const double ms )
{
  return nest::Time( nest::Time::ms( ms ) ).get_steps();
}

double
time_ms_of_step( const long step )
{
  return nest::Time( nest::Time::step( step ) ).get_ms();
}

double
resolution_ms()
{
  return nest::Time::get_resolution().get_ms();
}

double
stdp_eps()
{
  return nest::kernel().connection_manager.get_stdp_eps();
}

double
min_delay_ms()
{
  return nest::Time::delay_steps_to_ms( nest::kernel().connection_manager.get_min_delay() );
}

double
now_ms()
{
  return nest::kernel().simulation_manager.get_time().get_ms();
}

void
bad_property( const std::string& message )
{
  throw nest::BadProperty( message );
}

//! The object NEST finds as "module" when it installs the shared library.
class ModuleEntry : public nest::NESTExtensionInterface
{
public:
  void
  initialize() override
  {
    nmlc_register_models();
  }
};

} // namespace nmlc_abi

#pragma GCC visibility pop

// NEST's module manager looks up the unmangled symbol "module".
__attribute__( ( visibility( "default" ) ) ) nmlc_abi::ModuleEntry module;
