// weft::scope (include/weft/scope.hpp): the public face of scope_state.
#include <weft/scope.hpp>

#include "current.hpp"
#include "scope_state.hpp"

namespace weft {

scope::scope() : state_(std::make_unique<detail::scope_state>(detail::current_core())) {}
scope::scope(executor& ex) : state_(std::make_unique<detail::scope_state>(ex.core_.get())) {}
scope::~scope() { state_->finish(); }

void scope::join() { state_->join(); }
void scope::request_stop() noexcept { state_->request_stop(); }
std::stop_token scope::get_stop_token() const { return state_->stop_token(); }
detail::executor_core& scope::core() const { return state_->core(); }

}  // namespace weft
