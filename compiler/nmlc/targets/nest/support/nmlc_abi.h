/*
 *  nmlc_abi.h -- written by nmlc: the interface between a generated neuron and NEST.
 *
 *  A generated neuron is a "core": a plain C++ class with the model's parameters, state and
 *  update loop, compiled without any NEST header. Every translation unit that includes NEST's
 *  headers spends seconds instantiating the templates they use (the Dictionary variant above
 *  all), so the core is kept free of them and one NodeAdapter (nmlc_nest_adapter.h, compiled
 *  once per toolchain) turns any core into a NEST node: it owns the input ring buffers, the
 *  data logger and the spike history, and translates status dictionaries.
 *
 *  Everything here has hidden visibility: every module carries its own copy of the adapter and
 *  never binds to another module's.
 */
#ifndef NMLC_ABI_H
#define NMLC_ABI_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#pragma GCC visibility push( hidden )

namespace nmlc_abi
{

//! What NeuronCore::update needs of the slice besides the core's own state.
struct Slice
{
  long origin_steps; //!< first step of the slice
  long from;         //!< first lag to update
  long to;           //!< one past the last lag
  double* ring;      //!< the node's input ring buffers, ring r at ring + r * ring_len
  long ring_len;     //!< slots per ring buffer
  const long* slot;  //!< slot[ lag - from ]: the ring position of step origin_steps + lag
  bool recording;    //!< a multimeter is connected: call Host::record every step
  bool currents;     //!< a current source is connected: read the rings of continuous input (else all 0)
};

//! The NEST node a core lives in; the core calls it back for what only NEST can do.
class Host
{
public:
  //! the neuron spikes at the end of step origin + lag (its spike time is step `step`)
  virtual void emit_spike( long step, long lag ) = 0;
  //! hand the recordables of step `step` to the connected multimeters
  virtual void record( long step ) = 0;
  //! throw NEST's NumericalInstability for this node
  [[noreturn]] virtual void numerical_instability() = 0;

protected:
  ~Host() = default;
};

//! Receives a core's status entries (NEST's Dictionary on the other side).
class StatusOut
{
public:
  virtual void put( const char* key, double value ) = 0;
  virtual void put( const char* key, long value ) = 0;
  virtual void put( const char* key, bool value ) = 0;
  virtual void put( const char* key, const std::string& value ) = 0;
  virtual void put( const char* key, const std::vector< double >& value ) = 0;
  virtual void put( const char* key, const std::vector< long >& value ) = 0;
  virtual void put( const char* key, const std::vector< bool >& value ) = 0;
  virtual void put( const char* key, const std::vector< std::string >& value ) = 0;

protected:
  ~StatusOut() = default;
};

//! Supplies new status values; get() leaves `value` alone (and returns false) if `key` is absent.
class StatusIn
{
public:
  virtual bool get( const char* key, double& value ) = 0;
  virtual bool get( const char* key, long& value ) = 0;
  virtual bool get( const char* key, bool& value ) = 0;
  virtual bool get( const char* key, std::string& value ) = 0;
  virtual bool get( const char* key, std::vector< double >& value ) = 0;
  virtual bool get( const char* key, std::vector< long >& value ) = 0;
  virtual bool get( const char* key, std::vector< bool >& value ) = 0;
  virtual bool get( const char* key, std::vector< std::string >& value ) = 0;
  //! throw NEST's BadProperty
  [[noreturn]] virtual void bad_property( const std::string& message ) = 0;
  //! let NEST's node base class take its entries (after the model's were checked, before they are kept)
  virtual void set_base_status() = 0;

protected:
  ~StatusIn() = default;
};

//! A generated neuron without NEST: parameters, state, derived variables and the update loop.
class NeuronCore
{
public:
  virtual ~NeuronCore() = default;
  //! a new node of the same model, constructed at `where` (NeuronDescriptor::core_size bytes, aligned to
  //! core_align): parameters, state and derived variables copied, buffers fresh
  virtual NeuronCore* clone_into( void* where ) const = 0;
  //! reset per-run buffers (continuous inputs, solver state) and seed the neuron's random numbers
  virtual void init_buffers( std::uint64_t rng_seed, std::uint64_t node_id ) = 0;
  //! recompute everything that depends only on parameters and the resolution
  virtual void calibrate() = 0;
  virtual void update( Host& host, const Slice& slice ) = 0;
  //! the model's parameters and state
  virtual void get_status( StatusOut& out ) const = 0;
  //! entries after those of NEST's node base class (co-generated traces)
  virtual void
  get_status_late( StatusOut& ) const
  {
  }
  virtual void set_status( StatusIn& in ) = 0;
  //! value of recordable `index` (the order of NeuronDescriptor::recordables)
  virtual double recordable( std::size_t index ) const = 0;
};

//! Where spikes of one receptor and weight sign go.
struct SpikeRoute
{
  int ring;      //!< ring of the spike weights (-1: the spike is dropped)
  int count;     //!< ring of the spike counts (-1: not counted)
};

//! A neuron model as the adapter needs to know it; generated as constant data next to the core.
struct NeuronDescriptor
{
  const char* name; //!< class name, for messages
  //! a core with default parameters and initial state, constructed at `where` (as for clone_into)
  NeuronCore* ( *create )( void* where );
  std::size_t core_size;  //!< sizeof the core class: the adapter places the core inside its own allocation
  std::size_t core_align; //!< alignof the core class
  int n_rings;               //!< input ring buffers (spike ports, their event counts, currents)
  long n_spike_receptors;    //!< receptor types 0 .. n-1 of spike input (0: no spike input)
  //! spike_routes[ 2 * receptor + ( weight < 0 ) ]: where a spike of that receptor and sign goes
  const SpikeRoute* spike_routes;
  long n_current_receptors; //!< receptor types 0 .. n-1 of continuous input
  const int* current_ring;  //!< current_ring[ receptor ]: ring of the input currents
  const char* const* recordables;
  std::size_t n_recordables;
  const char* const* receptor_names; //!< names for "receptor_types" (null: the model does not list them)
  const long* receptor_numbers;
  std::size_t n_receptor_names;
  bool emits_spikes;
  bool uses_random; //!< seed the core's random numbers from the kernel's rng_seed
};

//! register `model` with NEST under `name` (called while the module is installed)
void register_neuron( const NeuronDescriptor& model, const std::string& name );

//! NEST's time arithmetic, for code compiled without NEST
long steps_of_ms( double ms );     //!< nest::Time( nest::Time::ms( ms ) ).get_steps()
double time_ms_of_step( long step ); //!< nest::Time( nest::Time::step( step ) ).get_ms()
double resolution_ms();            //!< the simulation resolution
double stdp_eps();                 //!< the kernel's tolerance for spike-time comparisons
double min_delay_ms();             //!< the network's minimal delay
double now_ms();                   //!< the kernel's current time
[[noreturn]] void bad_property( const std::string& message ); //!< throw NEST's BadProperty

} // namespace nmlc_abi

//! Defined by the generated module: registers its models (called from the module's initialize()).
void nmlc_register_models();

#pragma GCC visibility pop

#endif
